"""Shared fixtures. Every test's storage is a temp dir (autouse), so no test touches a real
user folder; the bundled models are loaded once per session and shared."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def running_app(tmp_path_factory, model_cache):
    """The real app (`webapp serve`) on a free loopback port with its own temp storage."""
    storage = tmp_path_factory.mktemp("app-storage")
    port = free_port()
    env = {
        **os.environ,
        "WEBAPP_STORAGE_DIR": str(storage),
        "WEBAPP_MODELS_DIR": str(model_cache),
        "WEBAPP_PORT": str(port),
        "WEBAPP_HOST": "127.0.0.1",
    }
    log = (storage / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited: {(storage / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("the app did not start within 240 s")
    yield {"url": url, "storage": storage, "port": port}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def demo(shared_services, model_cache, tmp_path_factory):
    """Services on their own storage with the demo documents indexed."""
    from webapp.services import Services

    settings = Settings(storage_dir=tmp_path_factory.mktemp("eval"), models_dir=model_cache)
    services = Services(settings, models_from=shared_services)
    for path in DEMO_DOCS:
        assert services.knowledge.ingest(OWNER, path, path.name).ok
    return services
