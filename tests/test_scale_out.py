"""Past one machine: documents in a real Chroma server (`chroma run`), generation on a real
OpenAI-compatible server (`transformers serve` with the bundled model), two app replicas
sharing the Chroma server, and what users see while a server is down. Loopback only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DEMO_DOCS, AppProcess, free_port
from webapp.chat.service import ChatOptions
from webapp.errors import StoreUnavailable

pytestmark = pytest.mark.slow

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

BIN = Path(sys.executable).parent
TIMEOUT = 180


class Server:
    """A server process on a free loopback port, started and stopped by the test."""

    def __init__(self, argv: list[str], ready_path: str, log: Path, env: dict | None = None):
        self.port = free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.ready = f"http://127.0.0.1:{self.port}{ready_path}"
        self.log, self.env = log, {**os.environ, **(env or {})}

    def start(self, timeout: float = 120) -> Server:
        self.proc = subprocess.Popen(
            self.argv, stdout=self.log.open("a"), stderr=subprocess.STDOUT, env=self.env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited: {self.log.read_text()[-1500:]}")
            try:
                urllib.request.urlopen(self.ready, timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chroma-server")
    argv = [str(BIN / "chroma"), "run", "--path", str(folder / "data"), "--host", "127.0.0.1"]
    server = Server([*argv, "--port", "{port}"], "/api/v2/heartbeat", folder / "chroma.log")
    yield server.start()
    server.stop()


def test_every_knowledge_base_feature_works_against_a_chroma_server(
    make_services, chroma, tmp_path
):
    services = make_services(chroma_url=chroma.url)
    kb, doc = services.knowledge, DEMO_DOCS[1]  # the handbook names the chair
    first = kb.ingest("alice", doc, doc.name)
    assert first.status == "indexed"
    assert kb.ingest("alice", doc, doc.name).status == "unchanged"  # dedup by content
    changed = tmp_path / doc.name
    changed.write_text(doc.read_text() + "\nThe ferry now also stops at Ness on Fridays.\n")
    assert kb.ingest("alice", changed, doc.name).status == "replaced"
    assert [d.file for d in kb.list_documents("alice")] == [doc.name]
    assert kb.list_documents("bob") == []  # owners stay apart on the shared server
    found = services.chat.retrieve("alice", "Who is the chair of the board?", 4)
    assert found and found[0].file == doc.name and found[0].retrieval["keyword_rank"] == 1
    assert services.chat.retrieve("bob", "Who is the chair of the board?", 4) == []
    # Nothing was stored on the local disk's embedded store.
    assert not (services.settings.storage_dir / "chroma").exists()
    kb.delete("alice", kb.list_documents("alice")[0].id)
    assert kb.list_documents("alice") == []
    assert services.health()["checks"]["documents"]["ok"]


def test_two_replicas_share_one_chroma_server(chroma, tmp_path, model_cache):
    env = {"WEBAPP_CHROMA_URL": chroma.url}
    one = AppProcess(tmp_path / "one" / "storage", model_cache, **env).start()
    two = AppProcess(tmp_path / "two" / "storage", model_cache, **env).start()
    try:
        a, b = Client(one.url, verbose=False), Client(two.url, verbose=False)
        doc = DEMO_DOCS[1]
        [result] = a.submit([handle_file(str(doc))], api_name="/upload").result(timeout=TIMEOUT)
        assert result["status"] == "indexed"
        assert [d["file"] for d in b.predict(api_name="/list_documents")] == [doc.name]
        answer = b.submit(
            "Who is the chair of the board?", True, 4, 0.0, 24, api_name="/chat"
        ).result(timeout=TIMEOUT)
        assert any(s["file"] == doc.name for s in answer["sources"])
        b.predict(result["id"], api_name="/delete_document")
        assert a.predict(api_name="/list_documents") == []
        for app in (one, two):
            with urllib.request.urlopen(app.url + "health", timeout=10) as response:
                report = json.load(response)
            assert report["ok"] and report["checks"]["documents"]["detail"] == "Chroma server"
    finally:
        one.stop()
        two.stop()


def test_a_chroma_server_that_is_down_gives_a_message_and_service_resumes(make_services, tmp_path):
    folder = tmp_path / "flaky"
    argv = [str(BIN / "chroma"), "run", "--path", str(folder), "--host", "127.0.0.1"]
    server = Server([*argv, "--port", "{port}"], "/api/v2/heartbeat", tmp_path / "c.log").start()
    services = make_services(chroma_url=server.url)
    doc = DEMO_DOCS[0]
    assert services.knowledge.ingest("local", doc, doc.name).ok
    server.stop()
    with pytest.raises(StoreUnavailable, match="not reachable"):
        services.knowledge.list_documents("local")
    refused = services.knowledge.ingest("local", DEMO_DOCS[1], DEMO_DOCS[1].name)
    assert refused.status == "failed" and "not reachable" in refused.message
    with pytest.raises(StoreUnavailable):
        services.chat.ask("local", "Who is the chair of the board?", [], ChatOptions())
    assert not services.health()["ok"]
    server.start()  # the same data, the same port: no restart of the app
    try:
        assert [d.file for d in services.knowledge.list_documents("local")] == [doc.name]
        assert services.knowledge.ingest("local", DEMO_DOCS[1], DEMO_DOCS[1].name).ok
        assert services.health()["ok"]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def model_server(tmp_path_factory, shared_services):
    folder = tmp_path_factory.mktemp("transformers-serve")
    model = shared_services.base_model_path()
    argv = [str(BIN / "transformers"), "serve", model, "--host", "127.0.0.1", "--port", "{port}"]
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(folder / "hub")}
    (folder / "hub").mkdir()
    server = Server(argv, "/health", folder / "serve.log", env).start(timeout=180)
    yield server, model
    server.stop()


def test_the_chat_streams_from_an_openai_compatible_server(make_services, model_server):
    server, model = model_server
    services = make_services(llm_base_url=f"{server.url}/v1", llm_model=model)
    for path in DEMO_DOCS:
        assert services.knowledge.ingest("local", path, path.name).ok
    assert getattr(services.generator, "remote", False)
    seen = []  # the same Answer grows: keep its text at each step
    for final in services.chat.stream(
        "local", "Who is the chair of the board?", [], ChatOptions(max_new_tokens=32)
    ):
        seen.append(final.answer)
    assert final.done and final.sources
    assert "Ekberg" in final.answer  # the served bundled model read the handbook
    assert len(set(seen)) > 2  # it grew piece by piece
    # /v1/models answers (transformers serve lists only hub-cached models, so no names here;
    # vLLM lists its --lora-modules, which the model selector then offers).
    assert isinstance(services.generator.served_models(), list)
    assert services.health()["checks"]["generator"]["ok"]


def test_a_model_server_that_is_down_gives_a_message(make_services):
    services = make_services(llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="x")
    with pytest.raises(StoreUnavailable, match="model server is not reachable"):
        services.chat.ask("local", "Hello?", [], ChatOptions(use_rag=False, max_new_tokens=8))
    assert services.health()["checks"]["generator"] == {
        "ok": False,
        "detail": "model server: not reachable",
    }


def test_api_errors_while_chroma_is_down_are_plain(chroma, tmp_path, model_cache):
    """Through the app: a clear message, no traceback, while the store is unreachable."""
    app = AppProcess(
        tmp_path / "s", model_cache, WEBAPP_CHROMA_URL=f"http://127.0.0.1:{free_port()}"
    ).start()
    try:
        client = Client(app.url, verbose=False)
        with pytest.raises(AppError, match="not reachable"):
            client.predict(api_name="/list_documents")
        with pytest.raises(urllib.error.HTTPError) as down:
            urllib.request.urlopen(app.url + "health", timeout=10)
        assert down.value.code == 503
    finally:
        app.stop()
