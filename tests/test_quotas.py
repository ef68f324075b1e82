"""Per-user limits on the number and total size of documents, on the real knowledge base."""

from __future__ import annotations

from pathlib import Path

import pytest

OWNER = "local"


def text_file(path: Path, size: int, seed: int) -> Path:
    """A text file of exactly `size` bytes whose content differs with `seed`."""
    words = "river bridge harbour lantern meadow granite orchard compass falcon quarry".split()
    text = " ".join(
        f"Note {seed}.{i}: the {words[(i + seed) % 10]} near gate {seed * 1000 + i} is open."
        for i in range(size // 20 + 1)
    )
    path.write_text(text[:size])
    return path


def ingest(kb, *paths: Path, owner: str = OWNER):
    return kb.ingest_files(owner, [(p, p.name) for p in paths])


@pytest.mark.slow
def test_document_count_limit(make_services, tmp_path):
    kb = make_services(max_documents=2).knowledge
    a, b, c = (text_file(tmp_path / f"{n}.txt", 600, i) for i, n in enumerate("abc"))
    results = ingest(kb, a, b, c)
    assert [r.status for r in results] == ["indexed", "indexed", "failed"]
    assert results[2].message == (
        "You have reached the limit of 2 documents. Delete some to add more."
    )
    assert sorted(d.file for d in kb.list_documents(OWNER)) == ["a.txt", "b.txt"]
    assert not any(kb.uploads_dir.rglob("*.pending.json"))  # refused before anything stored

    # At the limit: a new version of a file takes its place, the same file is unchanged.
    assert ingest(kb, text_file(tmp_path / "a.txt", 700, 9))[0].status == "replaced"
    assert ingest(kb, b)[0].status == "unchanged"
    assert sorted(d.file for d in kb.list_documents(OWNER)) == ["a.txt", "b.txt"]

    # Room again after a delete; other owners have their own count.
    kb.delete(OWNER, next(d.id for d in kb.list_documents(OWNER) if d.file == "b.txt"))
    assert ingest(kb, c)[0].status == "indexed"
    assert ingest(kb, a, b, owner="someone-else")[1].status == "indexed"


@pytest.mark.slow
def test_total_size_limit(make_services, tmp_path):
    kb = make_services(max_total_mb=0.02).knowledge  # 20,971 bytes
    a, b, big, small = (
        text_file(tmp_path / "a.txt", 8_000, 1),
        text_file(tmp_path / "b.txt", 8_000, 2),
        text_file(tmp_path / "big.txt", 8_000, 3),
        text_file(tmp_path / "small.txt", 3_000, 4),
    )
    results = ingest(kb, a, b, big, small)  # a batch crossing the limit: what fits goes in
    assert [r.status for r in results] == ["indexed", "indexed", "failed", "indexed"]
    assert results[2].message == (
        "This file would take your documents to 0.023 MB, over the 0.02 MB limit. "
        "Delete some documents to add it."
    )
    assert sorted(d.file for d in kb.list_documents(OWNER)) == ["a.txt", "b.txt", "small.txt"]
    assert sum(d.bytes for d in kb.list_documents(OWNER)) == 19_000

    # A new version counts instead of the old one: 19,000 - 8,000 + 9,500 fits ...
    assert ingest(kb, text_file(tmp_path / "a.txt", 9_500, 5))[0].status == "replaced"
    # ... and one that would take the total over the limit is refused, the old one kept.
    refused = ingest(kb, text_file(tmp_path / "a.txt", 11_000, 6))[0]
    assert refused.status == "failed"
    assert "over the 0.02 MB limit" in refused.message
    assert sum(d.bytes for d in kb.list_documents(OWNER)) == 20_500


def test_limit_message_in_megabytes():
    from types import SimpleNamespace

    from webapp.errors import QuotaExceeded
    from webapp.knowledge.documents import DocumentInfo
    from webapp.knowledge.ingest import MB, check_quota

    def doc(size: int) -> DocumentInfo:
        return DocumentInfo("x", "x.pdf", 1, None, size, "", "pdf", "")

    settings = SimpleNamespace(max_documents=500, max_total_mb=500.0)
    with pytest.raises(QuotaExceeded) as over:
        check_quota(settings, [doc(int(490 * MB))], [], int(22.3 * MB))
    assert str(over.value) == (
        "This file would take your documents to 512.3 MB, over the 500 MB limit. "
        "Delete some documents to add it."
    )
    with pytest.raises(QuotaExceeded) as barely:
        check_quota(settings, [doc(500 * MB)], [], 1)
    assert "to 500.000001 MB, over the 500 MB limit" in str(barely.value)
    check_quota(settings, [doc(499 * MB)], [], MB)  # exactly at the limit is allowed
    with pytest.raises(QuotaExceeded, match="limit of 500 documents"):
        check_quota(settings, [doc(1)] * 500, [], 1)
    check_quota(settings, [doc(1)] * 500, [doc(1)], 1)  # a replacement counts once


@pytest.mark.slow
def test_a_full_queue_says_busy_and_the_questions_it_took_are_answered(tmp_path, model_cache):
    """WEBAPP_QUEUE_MAX=1: of six questions at once, one is answered while one waits; the
    others are told plainly that the queue is full, and the server keeps answering."""
    from gradio_client import Client

    from tests.conftest import AppProcess

    app = AppProcess(tmp_path / "storage", model_cache, WEBAPP_QUEUE_MAX="1").start()
    try:
        clients = [Client(app.url, verbose=False) for _ in range(6)]
        jobs = [
            c.submit(f"Name a colour ({n}).", False, 4, 0.0, 8, api_name="/chat")
            for n, c in enumerate(clients)
        ]
        answered, busy = [], []
        for job in jobs:
            try:
                answered.append(job.result(timeout=180))
            except Exception as exc:
                busy.append(str(exc))
        assert busy, busy
        assert all("Queue is full" in message for message in busy), busy
        assert answered
        assert all(a["answer"].strip() for a in answered)
        after = clients[0].predict("Name a fruit.", False, 4, 0.0, 8, api_name="/chat")
        assert after["answer"].strip()  # once the rush is over, questions go through again
    finally:
        app.stop()
