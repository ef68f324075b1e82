"""File checks and parsing: the kind of a file comes from its name and is checked against
its bytes; each format becomes text with pages or sections."""

from __future__ import annotations

import pytest

from tests import files
from webapp.errors import (
    ContentMismatch,
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    NoTextFound,
    UnsupportedFileType,
)
from webapp.knowledge import formats
from webapp.knowledge.chunking import Headings


def written(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


WORD = "Marmalade"  # in every sample file, so each one's text is seen to come through
SAMPLES = {  # a small real file of each registered kind, written the way users' tools write it
    "pdf": lambda p: files.write_pdf(p, [f"{WORD} on page one."]),
    "docx": lambda p: files.write_docx(p, [f"{WORD} in a Word paragraph."]),
    "text": lambda p: written(p, f"{WORD} in plain text."),
    "markdown": lambda p: written(p, f"# Jars\n{WORD} in Markdown."),
    "html": lambda p: files.write_html(p, "Jars", f"{WORD} in HTML."),
    "csv": lambda p: files.write_csv(p, ["spread", "jar"], [[WORD, "1"]]),
    "json": lambda p: files.write_json(p, {"spread": WORD}),
}


def test_kind_follows_extension(tmp_path):
    p = tmp_path / "notes.MD"
    p.write_text("# Title\nbody")
    assert formats.detect_kind(p, p.name) == "markdown"


@pytest.mark.parametrize(("ext", "kind"), sorted(formats.KINDS.items()))
def test_every_registered_extension_accepts_a_real_file_of_its_format(tmp_path, ext, kind):
    """A format's entry in FORMATS is all it takes to be accepted: detection, the content
    check and the parser agree on every extension (a new format needs a sample here)."""
    p = SAMPLES[kind](tmp_path / f"sample{ext.upper()}")
    assert formats.detect_kind(p, p.name) == kind
    extracted = formats.extract(p, kind)
    assert extracted.kind == kind
    assert WORD in " ".join(text for text, _ in extracted.units)


def test_the_ui_labels_and_the_sandbox_follow_the_registry():
    from webapp.knowledge import sandbox
    from webapp.ui.chat import views as chat_views
    from webapp.ui.i18n import EN

    kinds = [f.kind for f in formats.FORMATS]
    assert len(set(kinds)) == len(kinds)
    assert len(formats.KINDS) == sum(len(f.extensions) for f in formats.FORMATS)  # no overlap
    assert list(chat_views.KIND_LABELS) == kinds
    for f in formats.FORMATS:
        label = chat_views.KIND_LABELS[f.kind]
        if f"kind_{f.kind}" in EN:  # "Text" is translated; PDF, Word... are names
            assert label.key == f"kind_{f.kind}"
        else:
            assert label == f.label
    assert chat_views.KIND_LABELS["text"].key == "kind_text"
    assert set(sandbox.WARM_MODULES) == {m for f in formats.FORMATS for m in f.warm_modules}
    assert "pypdf" in sandbox.WARM_MODULES


@pytest.mark.parametrize("name", ["photo.png", "archive.zip", "Makefile", "slides.pptx"])
def test_unsupported_types_are_refused_with_the_accepted_list(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"data")
    with pytest.raises(UnsupportedFileType, match="Accepted: PDF, DOCX, TXT"):
        formats.detect_kind(p, name)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with pytest.raises(EmptyFile, match="empty"):
        formats.detect_kind(p, p.name)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("report.pdf", b"just some text, not a PDF", "not a PDF"),
        ("letter.docx", b"plain text pretending", "not a Word document"),
        ("notes.txt", b"%PDF-1.4 binary", "content is a PDF"),
        ("data.csv", b"\x89PNG\r\n\x1a\n....", "PNG image"),
        ("page.html", b"PK\x03\x04zipzip", "ZIP archive"),
    ],
)
def test_content_must_match_extension(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ContentMismatch, match=message):
        formats.detect_kind(p, name)


def test_binary_text_file_is_refused(tmp_path):
    p = tmp_path / "blob.txt"
    p.write_bytes(b"abc\x00\x01\x02" * 100)
    with pytest.raises(ContentMismatch, match="binary"):
        formats.parse(p, formats.detect_kind(p, p.name))


def test_pdf_pages_are_kept(tmp_path):
    p = files.write_pdf(tmp_path / "two.pdf", ["First page about owls.", "Second page about bats."])
    parsed = formats.parse(p, "pdf")
    assert parsed.pages == 2
    assert [d.metadata["page"] for d in parsed.documents] == [1, 2]
    assert "bats" in parsed.documents[1].text


def test_scanned_pdf_has_no_text(tmp_path):
    p = files.write_scanned_pdf(tmp_path / "scan.pdf")
    with pytest.raises(NoTextFound, match="scanned"):
        formats.parse(p, "pdf")


def test_encrypted_pdf(tmp_path):
    p = files.write_encrypted_pdf(tmp_path / "locked.pdf", "secret text")
    with pytest.raises(EncryptedFile, match="password"):
        formats.parse(p, "pdf")


def test_corrupt_pdf(tmp_path):
    p = files.write_corrupt_pdf(tmp_path / "broken.pdf")
    with pytest.raises((CorruptFile, NoTextFound)):
        formats.parse(p, formats.detect_kind(p, p.name))


def test_docx(tmp_path):
    p = files.write_docx(tmp_path / "memo.docx", ["Quarterly memo.", "Revenue rose by 12%."])
    assert formats.detect_kind(p, p.name) == "docx"
    assert "Revenue rose by 12%." in formats.parse(p, "docx").documents[0].text


def test_corrupt_docx(tmp_path):
    good = files.write_docx(tmp_path / "memo.docx", ["hello"])
    data = bytearray(good.read_bytes())
    bad = tmp_path / "bad.docx"
    bad.write_bytes(bytes(data[: len(data) // 3]))  # truncated archive
    with pytest.raises((ContentMismatch, CorruptFile)):
        formats.parse(bad, formats.detect_kind(bad, bad.name))


def test_html_drops_script_and_keeps_headings_as_sections(tmp_path):
    p = files.write_html(tmp_path / "page.html", "Harbour rules", "Boats dock at pier nine.")
    text = formats.parse(p, "html").documents[0].text
    assert "alert" not in text
    assert "color:red" not in text
    assert "# Harbour rules" in text
    assert "pier nine" in text
    assert Headings(text).at(text.index("pier nine")) == "Harbour rules"


def test_csv_rows_keep_their_column_names(tmp_path):
    p = files.write_csv(
        tmp_path / "staff.csv", ["name", "role"], [["Ada", "engineer"], ["Bo", "chef"]]
    )
    text = formats.parse(p, "csv").documents[0].text
    assert text.splitlines() == ["name: Ada; role: engineer", "name: Bo; role: chef"]


def test_json_is_flattened_to_paths(tmp_path):
    p = files.write_json(tmp_path / "cfg.json", {"server": {"port": 8080, "tags": ["a", "b"]}})
    text = formats.parse(p, "json").documents[0].text
    assert "server.port: 8080" in text
    assert "server.tags[1]: b" in text


def test_invalid_json_says_where(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"a": 1,,}')
    with pytest.raises(CorruptFile, match="line 1"):
        formats.parse(p, "json")


def test_legacy_encoding_is_decoded(tmp_path):
    p = tmp_path / "old.txt"
    p.write_bytes("Café crème brûlée, déjà vu, à la française.".encode("cp1252"))
    assert "crème brûlée" in formats.parse(p, "text").documents[0].text


def test_whitespace_only_text_has_nothing_to_index(tmp_path):
    p = tmp_path / "blank.txt"
    p.write_text("   \n\n\t  ")
    with pytest.raises(NoTextFound):
        formats.parse(p, "text")


def test_section_is_the_last_heading_before_the_offset():
    text = "# Intro\nhello\n## Details\nworld"
    assert Headings(text).at(text.index("hello")) == "Intro"
    assert Headings(text).at(text.index("world")) == "Details"
    assert Headings("no headings here").at(3) is None
