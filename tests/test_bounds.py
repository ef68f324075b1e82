"""Bounds that hold whatever the file (issue 17): text per file counted over all its parts,
chunks bounded in characters, chunks per file and per user, sources that never carry
megabytes, and the same care for training data, question sets and adapter archives. The
files are real and written here; the sandbox, the splitter and Chroma are the shipped ones."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests import files
from tests.conftest import OWNER, SHARED_DATA
from tests.test_hostile import assert_plain, assert_refused_and_nothing_lost, ingest
from webapp.adapters import datasets
from webapp.adapters.registry import AdapterRegistry
from webapp.chat.service import PREVIEW_CHARS, ChatOptions
from webapp.errors import AdapterError, DatasetError
from webapp.evaluation import qasets
from webapp.knowledge import formats
from webapp.knowledge.chunking import SOURCE_CHARS, max_chunk_chars

MB = 1024 * 1024


@pytest.mark.slow
def test_a_word_file_of_many_parts_that_together_unpack_to_hundreds_of_mb_is_refused(
    kb, tmp_path, before
):
    """400 header parts of 1 MB each, every one under the small-part grace of the ratio
    rule: a 2 MB upload that unpacked to 400 MB of text and took the server down."""
    many = files.write_docx_of_many_parts(tmp_path / "headers.docx", 400, 1_000_000)
    assert many.stat().st_size < 3 * MB
    assert_refused_and_nothing_lost(kb, tmp_path, before, many, "zip bombs")


@pytest.mark.slow
def test_text_is_counted_over_all_the_parts_of_a_file(make_services, tmp_path):
    kb = make_services(max_text_mb=0.5).knowledge
    # Five parts of 200 KB: each part and the whole archive pass the ZIP checks.
    parts = files.write_docx_of_many_parts(tmp_path / "parts.docx", 5, 200_000)
    bad, ok = ingest(kb, parts, files.write_docx(tmp_path / "ok.docx", ["The lamp is green."]))
    assert bad.status == "failed", bad.message
    assert "more than 0.5 MB of text" in bad.message, bad.message
    assert_plain(bad.message, tmp_path)
    assert ok.status == "indexed"
    # The same limit for every kind: pages of a PDF, rows of a table, a JSON file.
    pdf = files.write_pdf_of_many_pages(tmp_path / "pages.pdf", 20, "Hello" * 6000)
    table = files.write_csv_of_rows(tmp_path / "rows.csv", 40_000)
    data = files.write_json(tmp_path / "data.json", {"k": ["v" * 100] * 10_000})
    for path in (pdf, table, data):
        [result] = ingest(kb, path)
        assert result.status == "failed", (path, result)
        assert "MB of text" in result.message, (path, result)
    assert sorted(d.file for d in kb.list_documents(OWNER)) == ["ok.docx"]


@pytest.mark.slow
def test_a_table_of_two_million_rows_is_refused_quickly_in_plain_words(kb, tmp_path, before):
    table = files.write_csv_of_rows(tmp_path / "rows.csv", 2_000_000)
    assert_refused_and_nothing_lost(kb, tmp_path, before, table, "MB of text")


@pytest.mark.slow
def test_a_line_without_spaces_becomes_chunks_of_bounded_size(kb, tmp_path):
    line = files.write_one_line_markdown(tmp_path / "line.md", 0.25)
    [result] = ingest(kb, line)
    assert result.status == "indexed"
    chunks = kb.chunks(OWNER, result.doc_id)
    most = max_chunk_chars(kb.settings.chunk_size)
    assert len(chunks) == result.chunks > 100
    assert max(len(c.text) for c in chunks) <= most
    assert "".join(c.text for c in chunks).count(line.read_text()[:64]) >= 1
    # A run of one repeated letter (a few [UNK] tokens however long) is cut by characters.
    letters = tmp_path / "letters.txt"
    letters.write_text("Start. " + "A" * 200_000, encoding="utf-8")
    [result] = ingest(kb, letters)
    texts = [c.text for c in kb.chunks(OWNER, result.doc_id)]
    assert max(map(len, texts)) <= most
    assert sum(map(len, texts)) >= 200_000


@pytest.mark.slow
def test_prose_is_cut_exactly_as_llamaindex_cuts_it(services, tmp_path):
    """The bound changes nothing for real text: same chunks as LlamaIndex's SentenceSplitter
    (over the same tokenizer) on real abstracts, when the data is there."""
    from llama_index.core.node_parser import SentenceSplitter

    corpus = SHARED_DATA / "scifact" / "corpus.jsonl"
    if not corpus.exists():
        pytest.skip("../shared/data is not here")
    with corpus.open() as f:
        text = " \n\n".join(
            json.loads(line)["text"] for line, _ in zip(f, range(400), strict=False)
        )
    ours = services.knowledge.splitter
    theirs = SentenceSplitter(
        chunk_size=ours.chunk_size, chunk_overlap=ours.chunk_overlap, tokenizer=ours._tokenizer
    )
    assert ours.split_text(text) == theirs.split_text(text)


@pytest.mark.slow
def test_chunks_per_file_and_per_user_are_limited(make_services, tmp_path):
    services = make_services(max_file_chunks=6, max_chunks=8)
    kb = services.knowledge
    long = tmp_path / "long.txt"
    long.write_text(" ".join(f"Sentence number {i} is here." for i in range(400)))
    [bad] = ingest(kb, long)
    assert bad.status == "failed"
    assert "more than the 6 one upload may have" in bad.message
    small = []
    for i in range(3):
        p = tmp_path / f"small{i}.txt"
        p.write_text(" ".join(f"Fact {i}.{j} is true." for j in range(70)))
        small.append(p)
    first, second, third = ingest(kb, *small)
    assert first.status == second.status == "indexed"
    assert first.chunks + second.chunks <= 8
    assert third.status == "failed", third
    assert "over the limit of 8" in third.message, third
    assert_plain(third.message, tmp_path)
    assert kb.count_chunks(OWNER) == first.chunks + second.chunks
    # A new version of a file takes the old one's place in the count.
    small[0].write_text(small[0].read_text() + " One more fact.")
    [replaced] = ingest(kb, small[0])
    assert replaced.status == "replaced"


@pytest.mark.slow
def test_a_huge_chunk_stored_before_the_bound_is_capped_wherever_it_travels(services, tmp_path):
    """Documents indexed by an older version may hold a chunk of megabytes: a question that
    retrieves it hands the model, the chat and the API a bounded passage, and the API's
    streamed snapshots carry only a preview of each source until the last one."""
    kb = services.knowledge
    doc = tmp_path / "vault.txt"
    doc.write_text("The vault code of the harbour office is 7731.", encoding="utf-8")
    [result] = ingest(kb, doc)
    collection = kb.collection(OWNER)
    stored = collection.get(where={"file_id": result.doc_id}, include=["documents", "embeddings"])
    huge = stored["documents"][0] + " " + "Z" * (3 * MB)
    # As an older version stored it (the vector kept: Chroma would embed the text itself).
    collection.update(ids=stored["ids"], documents=[huge], embeddings=stored["embeddings"])
    snapshots = [
        answer.as_dict()
        for answer in services.chat.stream(
            OWNER,
            "What is the vault code of the harbour office?",
            [],
            ChatOptions(max_new_tokens=24),
        )
    ]
    final = snapshots[-1]
    assert final["sources"]
    assert "7731" in final["sources"][0]["text"]
    assert len(final["sources"][0]["text"]) <= SOURCE_CHARS
    streamed = [s for s in snapshots[:-1] if s["sources"]]
    assert streamed
    assert all(len(s["text"]) <= PREVIEW_CHARS for x in streamed for s in x["sources"])
    assert sum(len(json.dumps(s)) for s in snapshots) < 200_000
    [chunk] = kb.chunks(OWNER, result.doc_id)
    assert len(chunk.text) <= SOURCE_CHARS


def test_training_data_and_question_sets_stop_at_their_row_limit(tmp_path, monkeypatch):
    rows = "".join(json.dumps({"question": f"Q{i}", "answer": f"A{i}"}) + "\n" for i in range(50))
    path = tmp_path / "rows.jsonl"
    path.write_text(rows)
    monkeypatch.setattr(datasets, "MAX_ROWS", 10)
    with pytest.raises(DatasetError, match="more than 10 rows"):
        datasets.load_file(path)
    monkeypatch.setattr(qasets, "MAX_ITEMS", 10)
    with pytest.raises(DatasetError, match="more than 10 rows"):
        qasets.load_file(path)
    table = files.write_csv(tmp_path / "rows.csv", ["question", "answer"], [["q", "a"]] * 50)
    with pytest.raises(DatasetError, match="more than 10 rows"):
        datasets.load_file(table)
    # Thousands of bad rows: the message names a few and counts the rest.
    bad = tmp_path / "bad.jsonl"
    bad.write_text("1\n" * 9 + "[[[[" * 50_000 + "]]]]" * 50_000 + "\n")
    with pytest.raises(DatasetError, match=r"^10 malformed row\(s\).*\(and 2 more\)"):
        datasets.load_file(bad)


def test_an_adapter_archive_of_many_entries_is_refused_before_it_is_indexed(tmp_path):
    registry = AdapterRegistry(tmp_path, base_model="base")
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(5_000):
            z.writestr(f"a/{i}.json", b"{}")
    with pytest.raises(AdapterError, match="more than the three files"):
        registry.import_zip(OWNER, archive)
    assert not registry.list(OWNER)


def test_the_zip_directory_reader_and_the_part_count_agree(tmp_path):
    many = files.write_docx_of_many_parts(tmp_path / "tiny.docx", 9_000, 200)
    assert formats.zip_directory(many)[0] == 9_002
    too_many = files.write_docx_of_many_parts(tmp_path / "more.docx", 10_000, 200)
    with pytest.raises(formats.UnsafeFile, match="more than 10,000 parts"):
        formats.extract(too_many, formats.detect_kind(too_many, too_many.name))
