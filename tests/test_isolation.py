"""Two users on one server (password mode): user A's secret never reaches user B — not through
the API, the chat, document ids, direct file URLs or the CLI — also with 20 requests at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import ROOT, AppProcess
from tests.files import write_jsonl
from webapp.owners import owner_key
from webapp.users import UsersFile

pytestmark = pytest.mark.slow

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

TIMEOUT = 180
SECRET = "QX-4471-ZEBRA"
QUESTION = "What is the vault code of Kestrel Station?"
USERS = {"alice": "alice's long password", "bob": "bob's long password"}


ADAPTER = "kestrel-notes"
RUN_ID = "20260101-000000-abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_cache, shared_services):
    storage = tmp_path_factory.mktemp("isolation") / "storage"
    accounts = UsersFile(storage / "users.json")
    for name, password in USERS.items():
        accounts.add(name, password)
    _give_alice_an_adapter_and_a_run(storage, model_cache, shared_services, tmp_path_factory)
    app = AppProcess(storage, model_cache, WEBAPP_AUTH="password").start()
    yield app
    app.stop()


def _give_alice_an_adapter_and_a_run(storage, model_cache, shared_services, tmp_path_factory):
    """Alice's adapter (trained on the secret) and evaluation run, made before the server
    starts: the server holds the storage's writer lock, so the CLI could not add them."""
    from webapp.adapters import datasets
    from webapp.adapters.config import TrainConfig
    from webapp.adapters.training import train
    from webapp.config import Settings
    from webapp.services import Services

    services = Services(
        Settings(storage_dir=storage, models_dir=model_cache), models_from=shared_services
    )
    rows = [{"question": QUESTION, "answer": f"The vault code is {SECRET}."}]
    data = datasets.load_file(write_jsonl(tmp_path_factory.mktemp("rows") / "rows.jsonl", rows))
    folder = services.adapters.folder("user:alice", ADAPTER)
    train(TrainConfig(name=ADAPTER, epochs=1), data, services.base_model_path(), "base", folder)
    run = {"run_id": RUN_ID, "configs": [], "rows": [{"question": QUESTION, "expected": SECRET}]}
    services.evals.save("user:alice", run)


def client(server, name: str) -> Client:
    return Client(server.url, auth=(name, USERS[name]), verbose=False)


@pytest.fixture(scope="module")
def secret_doc(server, tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("secret") / "kestrel.md"
    path.write_text(
        f"# Kestrel Station\nThe vault code of Kestrel Station is {SECRET}. "
        "Only the station master may open the vault.\n",
        encoding="utf-8",
    )
    job = client(server, "alice").submit([handle_file(str(path))], api_name="/upload")
    [result] = job.result(timeout=TIMEOUT)
    assert result["status"] == "indexed", result
    return result


def ask(c: Client, question: str = QUESTION) -> dict:
    return c.submit(question, True, 4, 0.0, 24, api_name="/chat").result(timeout=TIMEOUT)


def leaks(value) -> bool:
    return SECRET in json.dumps(value)


def test_nothing_without_signing_in(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/config").status_code == 401
        bad = http.post("/login", data={"username": "alice", "password": "wrong password"})
        assert bad.status_code >= 400
    with pytest.raises(Exception):  # noqa: B017  (gradio_client raises its own kinds)
        Client(server.url, verbose=False)


def test_owner_sees_and_gets_answers_from_the_document(server, secret_doc):
    alice = client(server, "alice")
    assert [d["file"] for d in alice.predict(api_name="/list_documents")] == ["kestrel.md"]
    answer = ask(alice)
    assert any(SECRET in s["text"] for s in answer["sources"])


def test_another_user_gets_nothing_of_it(server, secret_doc):
    assert [a["name"] for a in client(server, "alice").predict(api_name="/list_adapters")] == [
        ADAPTER
    ]
    bob = client(server, "bob")
    assert bob.predict(api_name="/list_documents") == []
    assert bob.predict(api_name="/list_adapters") == []
    with pytest.raises(AppError) as refused:  # Alice's adapter by name: not Bob's to use
        bob.submit(QUESTION, False, 4, 0.0, 24, ADAPTER, api_name="/chat").result(timeout=TIMEOUT)
    assert SECRET not in str(refused.value)
    assert "alice" not in str(refused.value)
    assert not leaks(ask(bob))
    with pytest.raises(AppError, match="does not exist") as refused:
        bob.predict(secret_doc["id"], api_name="/delete_document")
    assert "alice" not in str(refused.value)
    # Alice's document survived Bob's attempt.
    assert len(client(server, "alice").predict(api_name="/list_documents")) == 1


def test_file_urls_never_serve_stored_documents(server, secret_doc):
    stored = server.storage.resolve() / "uploads" / owner_key("user:alice")
    original = stored / f"{secret_doc['id']}.md"
    assert original.is_file()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/login", data={"username": "bob", "password": USERS["bob"]}).is_success
        for url in (
            f"/gradio_api/file={original}",
            f"/file={original}",
            f"/gradio_api/file={server.storage.resolve()}/users.json",
            "/gradio_api/file=.env",
        ):
            response = http.get(url)
            assert response.status_code >= 400, url
            assert SECRET not in response.text
            assert "scrypt" not in response.text


def test_twenty_requests_at_once_stay_with_their_user(server, secret_doc):
    def as_bob(i: int) -> list:
        bob = client(server, "bob")
        return [bob.predict(api_name="/list_documents"), ask(bob, f"{QUESTION} ({i})")]

    with ThreadPoolExecutor(max_workers=21) as pool:
        alice = pool.submit(lambda: ask(client(server, "alice")))
        results = list(pool.map(as_bob, range(20)))
    assert not any(leaks(r) for r in results)
    assert all(docs == [] for docs, _ in results)
    assert any(SECRET in s["text"] for s in alice.result()["sources"])


def test_cli_acts_only_for_the_named_user(server, secret_doc):
    def cli(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "webapp", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, **server.env},
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def docs(user: str) -> list[str]:
        return [d["file"] for d in json.loads(cli("docs", "list", "--json", "--user", user))]

    assert docs("bob") == []
    assert docs("alice") == ["kestrel.md"]
    assert json.loads(cli("adapters", "list", "--json", "--user", "bob")) == []
    assert ADAPTER in cli("adapters", "list", "--json", "--user", "alice")
    assert json.loads(cli("evals", "list", "--json", "--user", "bob")) == []
    assert RUN_ID in cli("evals", "list", "--json", "--user", "alice")
    asked = ["ask", QUESTION, "--json", "--max-new-tokens", "8"]
    assert SECRET not in cli(*asked, "--user", "bob")
    assert SECRET in cli(*asked, "--user", "alice")  # the same command does find it
