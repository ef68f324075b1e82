"""The knowledge base on the real parts: Chroma in a temp dir and the bundled embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.node_parser import SentenceSplitter

from tests import files
from webapp.errors import DocumentNotFound
from webapp.knowledge import formats
from webapp.models.embedder import token_counter
from webapp.owners import owner_key

pytestmark = pytest.mark.slow
OWNER = "local"
LONG = " ".join(
    f"Sentence number {i} talks about the river Elbe and its {i} bridges." for i in range(120)
)


def write_all_formats(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / "guide.md"
    md.write_text("# Setup\nInstall the widget first.\n\n## Usage\nPress the green button twice.\n")
    txt = folder / "notes.txt"
    txt.write_text(LONG)
    return {
        "pdf": files.write_pdf(
            folder / "manual.pdf",
            ["Page one: the pump runs at 40 bar.", "Page two: clean the filter weekly."],
        ),
        "docx": files.write_docx(folder / "memo.docx", ["The budget for 2031 is 4.2 million."]),
        "txt": txt,
        "md": md,
        "html": files.write_html(
            folder / "faq.html", "Opening hours", "We open at 7 am on Sundays."
        ),
        "csv": files.write_csv(
            folder / "staff.csv", ["name", "desk"], [["Ilse", "B12"], ["Omar", "C3"]]
        ),
        "json": files.write_json(folder / "config.json", {"service": {"timeout_s": 45}}),
    }


def ingest(kb, *paths: Path, owner: str = OWNER):
    return kb.ingest_files(owner, [(p, p.name) for p in paths])


def test_every_format_is_indexed_and_listed(kb, tmp_path):
    paths = write_all_formats(tmp_path / "in")
    results = ingest(kb, *paths.values())
    assert [r.status for r in results] == ["indexed"] * 7, [r.describe() for r in results]
    listed = {d.file: d for d in kb.list_documents(OWNER)}
    assert set(listed) == {p.name for p in paths.values()}
    assert listed["manual.pdf"].pages == 2
    assert listed["notes.txt"].pages is None
    assert listed["notes.txt"].chunks > 3  # long text is split
    assert listed["memo.docx"].bytes == paths["docx"].stat().st_size
    assert kb.count_chunks(OWNER) == sum(d.chunks for d in listed.values())


def test_chunk_count_equals_the_splitter_nodes(kb, services, tmp_path):
    txt = tmp_path / "long.txt"
    txt.write_text(LONG)
    [result] = ingest(kb, txt)
    settings = services.settings
    splitter = SentenceSplitter(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        tokenizer=token_counter(services.embedder),
    )
    expected = len(splitter.get_nodes_from_documents(formats.parse(txt, "text").documents))
    assert result.chunks == expected == kb.count_chunks(OWNER)
    assert len(kb.chunks(OWNER, result.doc_id)) == expected


def test_chunks_carry_what_a_citation_needs(kb, tmp_path):
    paths = write_all_formats(tmp_path / "in")
    ingest(kb, paths["pdf"], paths["md"], paths["txt"])
    docs = {d.file: d for d in kb.list_documents(OWNER)}
    pdf_chunks = kb.chunks(OWNER, docs["manual.pdf"].id)
    assert [c.page for c in pdf_chunks] == [1, 2]
    md_chunks = kb.chunks(OWNER, docs["guide.md"].id)
    assert md_chunks[0].section == "Setup"
    source = paths["txt"].read_text()
    for chunk in kb.chunks(OWNER, docs["notes.txt"].id):
        assert source[chunk.start : chunk.end] == chunk.text


def test_identical_reupload_is_a_no_op(kb, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("Alpacas hum when they are content.")
    [first] = ingest(kb, p)
    count = kb.count_chunks(OWNER)
    [again] = ingest(kb, p)
    assert again.status == "unchanged"
    assert "already indexed" in again.describe()
    copy = tmp_path / "copy-of-a.txt"
    copy.write_bytes(p.read_bytes())
    [renamed] = ingest(kb, copy)
    assert renamed.status == "unchanged"
    assert "a.txt" in renamed.message
    assert kb.count_chunks(OWNER) == count
    assert len(kb.list_documents(OWNER)) == 1
    assert again.doc_id == first.doc_id


def test_changed_version_replaces_old_chunks(kb, services, tmp_path):
    p = tmp_path / "policy.txt"
    p.write_text("Visitors must sign in at the front desk. " * 30)
    [old] = ingest(kb, p)
    p.write_text("Visitors now register online before arriving.")
    [new] = ingest(kb, p)
    assert new.status == "replaced"
    assert new.doc_id != old.doc_id
    [doc] = kb.list_documents(OWNER)
    assert doc.id == new.doc_id
    assert doc.chunks == new.chunks == kb.count_chunks(OWNER)
    texts = " ".join(c.text for c in kb.chunks(OWNER, new.doc_id))
    assert "front desk" not in texts
    hits = services.chat.retrieve(OWNER, "Where do visitors sign in?", 5)
    assert all(h.doc_id == new.doc_id for h in hits)
    stored = list((services.settings.storage_dir / "uploads").rglob("*.txt"))
    assert [s.name for s in stored] == [f"{new.doc_id}.txt"]


def test_delete_removes_chunks_and_original(kb, services, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Document A mentions the lighthouse keeper.")
    b.write_text("Document B mentions the ferry timetable.")
    ra, rb = ingest(kb, a, b)
    original = kb.original_path(OWNER, ra.doc_id)
    assert original.read_bytes() == a.read_bytes()
    kb.delete(OWNER, ra.doc_id)
    assert [d.file for d in kb.list_documents(OWNER)] == ["b.txt"]
    assert kb.count_chunks(OWNER) == rb.chunks
    assert not original.exists()
    with pytest.raises(DocumentNotFound):
        kb.delete(OWNER, ra.doc_id)
    with pytest.raises(DocumentNotFound):
        kb.chunks(OWNER, "no-such-id")


def test_originals_get_generated_names(kb, services, tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("Hostile names never reach the disk.")
    [r] = kb.ingest_files(OWNER, [(p, "../../../etc/evil name.txt")])
    assert r.ok
    assert r.file == "evil name.txt"
    uploads = services.settings.storage_dir / "uploads"
    [stored] = [f for f in uploads.rglob("*") if f.is_file()]
    assert stored.parent == uploads / owner_key(OWNER)
    assert stored.name == f"{r.doc_id}.txt"


BAD_CASES = {
    "unsupported.exe": (lambda p: p.write_bytes(b"MZ\x90\x00"), "not supported"),
    "empty.txt": (lambda p: p.write_bytes(b""), "empty"),
    "scan.pdf": (files.write_scanned_pdf, "scanned"),
    "broken.pdf": (files.write_corrupt_pdf, "damaged"),
    "locked.pdf": (lambda p: files.write_encrypted_pdf(p, "top secret"), "password"),
    "fake.pdf": (lambda p: p.write_text("I am text"), "not a PDF"),
    "fake.docx": (lambda p: p.write_text("I am text"), "not a Word document"),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_file_gets_a_message_and_loses_nothing(kb, tmp_path, name):
    write, message = BAD_CASES[name]
    before = tmp_path / "before.txt"
    before.write_text("The archive opens at dawn.")
    [kept] = ingest(kb, before)
    bad = tmp_path / name
    write(bad)
    good = tmp_path / "good.md"
    good.write_text("# Garden\nTomatoes need six hours of sun.")
    results = ingest(kb, bad, good)
    assert results[0].status == "failed"
    assert message in results[0].message
    assert results[1].status == "indexed"
    listed = sorted(d.file for d in kb.list_documents(OWNER))
    assert listed == ["before.txt", "good.md"]
    assert kb.count_chunks(OWNER) == kept.chunks + results[1].chunks


def test_file_over_the_size_limit(make_services, tmp_path):
    kb = make_services(max_upload_mb=0.001).knowledge  # about 1 KB
    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_text("word " * 1000)
    small.write_text("Small files still get in.")
    big_result, small_result = ingest(kb, big, small)
    assert big_result.status == "failed"
    assert "limit is 0.001 MB" in big_result.message
    assert small_result.status == "indexed"


def test_owners_are_isolated(kb, services, tmp_path):
    p = tmp_path / "secret.txt"
    p.write_text("Alice's private note: the safe code is 7341.")
    [r] = ingest(kb, p, owner="alice")
    assert kb.list_documents("bob") == []
    assert services.chat.retrieve("bob", "What is the safe code?", 5) == []
    with pytest.raises(DocumentNotFound):
        kb.delete("bob", r.doc_id)
    assert [d.file for d in kb.list_documents("alice")] == ["secret.txt"]


def test_documents_persist_across_restarts(make_services, tmp_path):
    storage = tmp_path / "persist"
    p = tmp_path / "p.txt"
    p.write_text("Persistence is checked by reopening the store.")
    make_services(storage).knowledge.ingest_files(OWNER, [(p, p.name)])
    reopened = make_services(storage).knowledge
    assert [d.file for d in reopened.list_documents(OWNER)] == ["p.txt"]
