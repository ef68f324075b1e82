"""The named API endpoints through gradio_client, against `webapp serve`.

/upload reports each file on its own, /list_documents describes what is stored, /chat answers
from the documents (streamed, with sources), /delete_document removes a document for good.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests import SOURCE_KEYS, files

pytestmark = pytest.mark.slow

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

TIMEOUT = 180  # s; the first question also warms the model up
DOC_KEYS = {"id", "file", "chunks", "pages", "bytes", "added"}
TOWER = "How tall is the Zorblax tower?"


@pytest.fixture(scope="module")
def client(running_app) -> Client:
    return Client(running_app["url"], verbose=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api-files")
    report = files.write_pdf(
        folder / "harbor-report.pdf",
        [
            "Quillon harbor annual report.\nThe harbor was opened to ships in 1872.",
            "The Quillon lighthouse has exactly 73 steps.\nIts lamp is painted green.",
        ],
    )
    tower = folder / "tower.md"
    tower.write_text(
        "# The Zorblax tower\nThe Zorblax tower is 412 meters tall. It was built in 1999 by "
        "the architect Mira Quell in the city of Vantor.\n",
        encoding="utf-8",
    )
    fake = folder / "minutes.docx"  # named .docx, but really plain text
    fake.write_text("Minutes of the meeting: nothing was decided.\n", encoding="utf-8")
    return {"pdf": report, "md": tower, "bad": fake}


@pytest.fixture(scope="module")
def uploaded(client, corpus) -> dict[str, dict]:
    """One /upload call with two good files and a bad one; results by file name."""
    results = upload(client, corpus["pdf"], corpus["bad"], corpus["md"])
    assert [r["file"] for r in results] == ["harbor-report.pdf", "minutes.docx", "tower.md"]
    return {r["file"]: r for r in results}


def upload(client: Client, *paths) -> list[dict]:
    job = client.submit([handle_file(str(p)) for p in paths], api_name="/upload")
    return job.result(timeout=TIMEOUT)


def ask(client: Client, question: str, **options) -> dict:
    return client.submit(question, **options, api_name="/chat").result(timeout=TIMEOUT)


def listed(client: Client) -> dict[str, dict]:
    return {d["file"]: d for d in client.predict(api_name="/list_documents")}


def test_upload_reports_each_file(uploaded):
    for name in ("harbor-report.pdf", "tower.md"):
        result = uploaded[name]
        assert result["status"] == "indexed", result
        assert result["chunks"] >= 1
        assert result["id"]
        assert result["message"] == ""
    bad = uploaded["minutes.docx"]
    assert bad["status"] == "failed"
    assert bad["chunks"] == 0
    assert bad["id"] is None
    assert "not a Word document" in bad["message"]
    assert "/" not in bad["message"]  # plain words, no server paths


def test_uploading_the_same_file_again_is_unchanged(client, corpus, uploaded):
    before = listed(client)
    again = upload(client, corpus["md"])
    assert len(again) == 1
    assert again[0]["status"] == "unchanged"
    assert again[0]["message"] == "already indexed"
    assert again[0]["id"] == uploaded["tower.md"]["id"]
    assert listed(client) == before  # no duplicate, nothing re-added


def test_list_documents_describes_what_is_stored(client, corpus, uploaded):
    docs = client.predict(api_name="/list_documents")
    assert all(set(d) == DOC_KEYS for d in docs), docs
    by_file = {d["file"]: d for d in docs}
    assert "minutes.docx" not in by_file  # the failed file is not stored
    pdf, md = by_file["harbor-report.pdf"], by_file["tower.md"]
    assert pdf["id"] == uploaded["harbor-report.pdf"]["id"]
    assert md["id"] == uploaded["tower.md"]["id"]
    assert pdf["pages"] == 2
    assert md["pages"] is None
    assert pdf["chunks"] == uploaded["harbor-report.pdf"]["chunks"]
    assert pdf["bytes"] == corpus["pdf"].stat().st_size
    assert md["bytes"] == corpus["md"].stat().st_size
    added = datetime.fromisoformat(md["added"])
    assert added.tzinfo is not None
    assert abs((datetime.now(added.tzinfo) - added).total_seconds()) < 3600


def test_chat_answers_from_the_document_and_names_it(client, uploaded):
    reply = ask(client, TOWER)
    assert set(reply) == {"answer", "sources", "rag", "adapter", "model", "reader", "grounded"}
    assert reply["grounded"] is True
    assert reply["rag"] is True
    assert "412" in reply["answer"]
    assert "[1]" in reply["answer"]
    first = reply["sources"][0]
    assert set(first) == SOURCE_KEYS
    assert first["file"] == "tower.md"
    assert "412 meters" in first["text"]
    assert 0 < first["score"] <= 1


def test_chat_cites_the_pdf_page_that_holds_the_fact(client, uploaded):
    reply = ask(client, "How many steps does the Quillon lighthouse have?")
    assert "73" in reply["answer"]
    first = reply["sources"][0]
    assert (first["file"], first["page"]) == ("harbor-report.pdf", 2)
    assert "73 steps" in first["text"]


def test_chat_streams_growing_snapshots(client, uploaded):
    job = client.submit(TOWER, api_name="/chat")
    snapshots = [dict(s) for s in job]
    final = job.result(timeout=TIMEOUT)
    assert len(snapshots) > 2, snapshots
    assert snapshots[0]["sources"], "sources should come before the text"
    lengths = [len(s["answer"]) for s in snapshots]
    assert lengths[0] < lengths[-1], lengths
    assert len(set(lengths)) > 2, lengths
    assert snapshots[-1] == final
    assert "412" in final["answer"]


def test_chat_without_documents_has_no_sources(client, uploaded):
    reply = ask(client, TOWER, use_rag=False, max_new_tokens=32)
    assert reply["rag"] is False
    assert reply["sources"] == []
    assert reply["answer"].strip()
    assert "[1]" not in reply["answer"]


def test_empty_question_is_refused_clearly(client):
    with pytest.raises(AppError, match="The question is empty"):
        ask(client, "   ")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("top_k", 0, "top_k must be between 1 and 10"),
        ("max_new_tokens", 100000, "max_new_tokens must be between 1 and 1024"),
        ("temperature", -1.0, "temperature must be between 0 and 1.5"),
    ],
)
def test_out_of_range_settings_are_refused_in_plain_words(client, field, value, message):
    with pytest.raises(AppError, match=message):
        client.predict("How tall is the tower?", **{field: value}, api_name="/chat")


def test_delete_document_removes_it_for_good(client, tmp_path, uploaded):
    canal = tmp_path / "velmora-canal.txt"
    canal.write_text("The Velmora canal is 38 kilometers long and was dug in 1803.\n")
    (added,) = upload(client, canal)
    assert added["status"] == "indexed"
    question = "How long is the Velmora canal?"
    assert ask(client, question)["sources"][0]["file"] == "velmora-canal.txt"

    gone = client.predict(added["id"], api_name="/delete_document")
    assert gone == {"deleted": added["id"], "file": "velmora-canal.txt"}
    remaining = listed(client)
    assert "velmora-canal.txt" not in remaining
    assert {"tower.md", "harbor-report.pdf"} <= set(remaining)  # the others stay
    after = ask(client, question)
    assert all(s["file"] != "velmora-canal.txt" for s in after["sources"]), after
    with pytest.raises(AppError, match="does not exist"):
        client.predict(added["id"], api_name="/delete_document")  # already gone


def test_deleting_an_unknown_document_is_a_clear_error(client):
    message = r"That document does not exist \(it may have been deleted\)"
    with pytest.raises(AppError, match=message):
        client.predict("no-such-document", api_name="/delete_document")
