"""Shared fixtures. Every test's storage is a temp dir (autouse), so no test touches a real
user folder; the bundled models are loaded once per session and shared."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from webapp.config import Settings, apply_process_environment

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEMO = ROOT / "assets" / "demo"
DEMO_DOCS = sorted(DEMO.glob("*.md"))
OWNER = "local"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """Converted-model cache for the whole run (the GGUF conversion happens once)."""
    return Path(os.environ.get("WEBAPP_TEST_MODEL_CACHE") or tmp_path_factory.mktemp("models"))


@pytest.fixture(autouse=True)
def isolated_storage(tmp_path, monkeypatch, model_cache) -> Path:
    storage = tmp_path / "storage"
    monkeypatch.setenv("WEBAPP_STORAGE_DIR", str(storage))
    monkeypatch.setenv("WEBAPP_MODELS_DIR", str(model_cache))
    return storage


@pytest.fixture(scope="session")
def shared_services(model_cache, tmp_path_factory):
    """Models loaded once; tests get their own stores through the `services` fixture."""
    settings = Settings(storage_dir=tmp_path_factory.mktemp("shared"), models_dir=model_cache)
    apply_process_environment(settings)
    from webapp.services import Services, quiet_libraries

    quiet_libraries()
    return Services(settings)


@pytest.fixture
def settings(isolated_storage, model_cache) -> Settings:
    return Settings(storage_dir=isolated_storage, models_dir=model_cache)


@pytest.fixture
def make_services(shared_services, model_cache, tmp_path):
    """Build Services on a fresh temp storage, reusing the session's loaded models."""
    from webapp.services import Services

    def build(storage: Path | None = None, **overrides) -> Services:
        s = Settings(
            storage_dir=storage or tmp_path / "storage", models_dir=model_cache, **overrides
        )
        return Services(s, models_from=shared_services)

    return build


@pytest.fixture
def services(make_services):
    return make_services()


@pytest.fixture
def generator(shared_services):
    return shared_services.generator


@pytest.fixture
def kb(services):
    return services.knowledge


@pytest.fixture
def before(kb, tmp_path):
    """A document indexed before a hostile upload, and a snapshot of the store."""
    p = tmp_path / "before.txt"
    p.write_text("The archive opens at dawn.", encoding="utf-8")
    [kept] = kb.ingest_files(OWNER, [(p, p.name)])
    assert kept.status == "indexed"
    texts = sorted(kb.collection(OWNER).get(include=["documents"])["documents"])
    return {"result": kept, "chunks": kb.count_chunks(OWNER), "texts": texts}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """`webapp serve` in a child process on a free loopback port, with its own storage."""

    def __init__(self, storage: Path, model_cache: Path, **env: str):
        self.storage = storage
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {
            **os.environ,
            "WEBAPP_STORAGE_DIR": str(storage),
            "WEBAPP_MODELS_DIR": str(model_cache),
            "WEBAPP_PORT": str(self.port),
            "WEBAPP_HOST": "127.0.0.1",
            **env,
        }
        storage.mkdir(parents=True, exist_ok=True)
        self.log_path = storage.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 240) -> AppProcess:
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webapp", "serve"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status in (200, 401):
                        return self
            except urllib.error.HTTPError as exc:  # password mode answers 401 before sign-in
                if exc.code == 401:
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the app did not start within {timeout:.0f} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture(scope="module")
def running_app(tmp_path_factory, model_cache):
    """The real app (`webapp serve`) on a free loopback port with its own temp storage."""
    app = AppProcess(tmp_path_factory.mktemp("app") / "storage", model_cache).start()
    yield {"url": app.url, "storage": app.storage, "port": app.port}
    app.stop()


@pytest.fixture(scope="module")
def demo(shared_services, model_cache, tmp_path_factory):
    """Services on their own storage with the demo documents indexed."""
    from webapp.services import Services

    settings = Settings(storage_dir=tmp_path_factory.mktemp("eval"), models_dir=model_cache)
    services = Services(settings, models_from=shared_services)
    for path in DEMO_DOCS:
        assert services.knowledge.ingest(OWNER, path, path.name).ok
    return services
