"""No upload takes the server down (issue 17): the hostile files of the attack probe, uploaded
through the API of a real server (password mode, loopback) while another user keeps asking.
The server stays up and under 3 GB resident, each file is indexed within the bounds or
refused in plain words, the other user's answers keep coming, a question costs kilobytes,
and a workspace cookie the server did not issue (anonymous mode) gets a new, empty one."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from gradio_client import Client, handle_file

from tests import files
from tests.conftest import AppProcess
from webapp.users import UsersFile

pytestmark = pytest.mark.slow

TIMEOUT = 300
USERS = {"mallory": "mallory's long password", "victor": "victor's long password"}
PEAK_LIMIT_MB = 3 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_cache):
    storage = tmp_path_factory.mktemp("attack") / "storage"
    accounts = UsersFile(storage / "users.json")
    for name, password in USERS.items():
        accounts.add(name, password)
    app = AppProcess(storage, model_cache, WEBAPP_AUTH="password").start()
    yield app
    app.stop()


def client(server, name: str) -> Client:
    return Client(server.url, auth=(name, USERS[name]), verbose=False)


def peak_rss_mb(pid: int) -> float:
    """The server's high-water mark of resident memory (the readers are other processes)."""
    with open(f"/proc/{pid}/status") as f:
        line = next(x for x in f if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def hostile_files(folder):
    return {
        "headers.docx": files.write_docx_of_many_parts(folder / "headers.docx", 400, 1_000_000),
        "tiny-parts.docx": files.write_docx_of_many_parts(
            folder / "tiny-parts.docx", 9_990, 120, word="tiny", words=1
        ),
        "one-line.md": files.write_one_line_markdown(folder / "one-line.md", 10),
        "pages.pdf": files.write_pdf_of_many_pages(folder / "pages.pdf", 5_000),
        "rows.csv": files.write_csv_of_rows(folder / "rows.csv", 2_000_000),
        "nested.html": files.write_nested_html(folder / "nested.html", 20),
    }


def test_hostile_uploads_leave_the_server_up_and_the_other_user_answered(server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    victim_doc = folder / "lighthouse.md"
    victim_doc.write_text("# Skarvik\nSkarvik Light is a 42 metre lighthouse.", encoding="utf-8")
    victor = client(server, "victor")
    [indexed] = victor.submit([handle_file(str(victim_doc))], api_name="/upload").result(TIMEOUT)
    assert indexed["status"] == "indexed"

    answers, errors, attacking = [], [], threading.Event()
    attacking.set()

    def keep_asking():
        while attacking.is_set():
            started = time.monotonic()
            try:
                reply = victor.submit(
                    "How tall is Skarvik Light?", True, 4, 0.0, 16, api_name="/chat"
                ).result(TIMEOUT)
                answers.append((time.monotonic() - started, reply))
                time.sleep(2.5)  # within the 30 questions a minute
            except Exception as exc:
                errors.append(repr(exc))

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    mallory = client(server, "mallory")
    results, took = {}, {}
    try:
        for name, path in hostile_files(folder).items():
            started = time.monotonic()
            [results[name]] = mallory.submit([handle_file(str(path))], api_name="/upload").result(
                TIMEOUT
            )
            took[name] = time.monotonic() - started
            print(
                f"{name}: {results[name]['status']} {results[name]['chunks']} chunks in "
                f"{took[name]:.1f} s - {results[name]['message']}",
                flush=True,
            )
            assert server.proc.poll() is None, f"the server died on {name}"
    finally:
        attacking.clear()
        asker.join(TIMEOUT)
    print(f"victim: {len(answers)} answers, slowest {max(t for t, _ in answers):.1f} s")
    peak = peak_rss_mb(server.proc.pid)
    print(f"server peak RSS {peak:.0f} MB")

    assert peak < PEAK_LIMIT_MB
    assert not errors
    assert len(answers) >= 3
    assert all("42" in reply["answer"] or reply["sources"] for _, reply in answers)
    for name in ("headers.docx", "rows.csv", "nested.html"):
        assert results[name]["status"] == "failed", (name, results[name])
    assert "zip bombs" in results["headers.docx"]["message"]
    assert "MB of text" in results["rows.csv"]["message"]
    for name, result in results.items():
        if result["status"] == "failed":
            assert result["message"]
            assert "Traceback" not in result["message"]
        else:
            assert 0 < result["chunks"] <= 25_000, (name, result)
    assert results["pages.pdf"]["status"] == "indexed"
    # Nothing of the attacker's reached the other user; the server still serves both.
    assert [d["file"] for d in victor.predict(api_name="/list_documents")] == ["lighthouse.md"]
    listed = {d["file"] for d in mallory.predict(api_name="/list_documents")}
    assert listed == {n for n, r in results.items() if r["status"] == "indexed"}


def test_a_question_that_retrieves_the_longest_chunk_streams_kilobytes(server, tmp_path_factory):
    """Over the REST route, which sends every snapshot whole (the queue protocol sends what
    changed): the sources' text travels once, in the last snapshot."""
    path = tmp_path_factory.mktemp("long") / "blob.txt"
    path.write_text("The vault code of the harbour office is 7731. " + "Q" * 2_000_000)
    mallory = client(server, "mallory")
    [result] = mallory.submit([handle_file(str(path))], api_name="/upload").result(TIMEOUT)
    assert result["status"] == "indexed"
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as http:
        login = {"username": "mallory", "password": USERS["mallory"]}
        assert http.post("/login", data=login).is_success
        question = ["What is the vault code of the harbour office?", True, 4, 0.0, 128, "", [], []]
        event = http.post("/gradio_api/call/chat", json={"data": question}).json()["event_id"]
        received, last = 0, None
        with http.stream("GET", f"/gradio_api/call/chat/{event}") as stream:
            for line in stream.iter_lines():
                received += len(line) + 1
                if line.startswith("data:") and line[5:].strip().startswith("["):
                    last = json.loads(line[5:])
    print(f"streamed {received} bytes")
    assert last is not None
    assert last[0]["sources"]
    assert any("7731" in s["text"] for s in last[0]["sources"])
    assert max(len(s["text"]) for s in last[0]["sources"]) <= 8_000
    assert received < 1024 * 1024


def test_a_forged_workspace_cookie_gets_a_new_empty_workspace(tmp_path_factory, model_cache):
    app = AppProcess(
        tmp_path_factory.mktemp("anon") / "storage", model_cache, WEBAPP_AUTH="anonymous"
    ).start()
    try:
        forged = {"cookie": "docchat_workspace=" + "B" * 40}
        doc = tmp_path_factory.mktemp("anon-doc") / "diary.md"
        doc.write_text("My diary: the spare key is under the blue pot.", encoding="utf-8")
        victim = Client(app.url, verbose=False, headers=forged)
        [result] = victim.submit([handle_file(str(doc))], api_name="/upload").result(TIMEOUT)
        assert result["status"] == "indexed"
        attacker = Client(app.url, verbose=False, headers=forged)
        assert attacker.predict(api_name="/list_documents") == []
        for value in ("B" * 40, "C" * 5000):
            with httpx.Client(base_url=app.url, cookies={"docchat_workspace": value}) as http:
                issued = http.get("/").headers["set-cookie"]
                assert value not in issued
                assert "docchat_workspace=" in issued
    finally:
        app.stop()
