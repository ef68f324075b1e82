"""Which files we accept, what their bytes really are, and how each becomes LlamaIndex Documents.

Every failure raises an IngestError whose message a user can act on. The kind of a file is
decided from its extension and then checked against its content (magic bytes, decoding), so a
renamed binary is refused instead of being indexed as garbage.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from llama_index.core import Document

from webapp.errors import (
    ContentMismatch,
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    NoTextFound,
    UnsupportedFileType,
)

KINDS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
    ".json": "json",
}
TEXT_KINDS = {"text", "markdown", "html", "csv", "json"}
BINARY_SIGNATURES = {
    b"%PDF-": "a PDF",
    b"PK\x03\x04": "a ZIP archive (or an Office document)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x7fELF": "a program",
    b"MZ": "a Windows program",
    b"\x1f\x8b": "a gzip archive",
}


@dataclass
class Parsed:
    """The text units of one file: a Document per PDF page, or one for the whole file."""

    kind: str
    documents: list[Document]
    pages: int | None


def supported_extensions() -> list[str]:
    return sorted(KINDS)


def detect_kind(path: Path, name: str) -> str:
    """Kind of the upload from its name, verified against its first bytes."""
    ext = Path(name).suffix.lower()
    kind = KINDS.get(ext)
    if kind is None:
        accepted = ", ".join(
            e.lstrip(".").upper() for e in ("pdf", "docx", "txt", "md", "html", "csv", "json")
        )
        raise UnsupportedFileType(
            f"'{ext or 'no extension'}' files are not supported. Accepted: {accepted}."
        )
    with path.open("rb") as f:
        head = f.read(8)
    if not head:
        raise EmptyFile("The file is empty.")
    if kind == "pdf" and not head.startswith(b"%PDF-"):
        raise ContentMismatch("The file is named .pdf but its content is not a PDF.")
    if kind == "docx" and not _is_docx(path):
        raise ContentMismatch("The file is named .docx but its content is not a Word document.")
    if kind in TEXT_KINDS:
        for signature, what in BINARY_SIGNATURES.items():
            if head.startswith(signature):
                raise ContentMismatch(f"The file is named {ext} but its content is {what}.")
    return kind


def _is_docx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "word/document.xml" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def parse(path: Path, kind: str) -> Parsed:
    parsed = _PARSERS[kind](path)
    if not any(doc.text.strip() for doc in parsed.documents):
        if kind == "pdf":
            raise NoTextFound(
                "No text could be extracted: the PDF may be scanned images (it needs OCR first)."
            )
        raise NoTextFound("The file contains no text to index.")
    parsed.documents = [d for d in parsed.documents if d.text.strip()]
    return parsed


def _parse_pdf(path: Path) -> Parsed:
    import pypdf
    from llama_index.readers.file import PDFReader

    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == 0:
            raise EncryptedFile(
                "The PDF is password-protected; remove the password and upload it again."
            )
        pages = len(reader.pages)
    except EncryptedFile:
        raise
    except Exception as exc:  # pypdf raises many types on damaged files
        raise CorruptFile("The PDF is damaged and could not be read.") from exc
    if reader.is_encrypted:
        # Opens with an empty password (permissions-only encryption): read it ourselves.
        docs = [
            Document(text=p.extract_text() or "", metadata={"page": i + 1})
            for i, p in enumerate(reader.pages)
        ]
        return Parsed("pdf", docs, pages)
    try:
        docs = PDFReader(return_full_document=False).load_data(path)
    except Exception as exc:
        raise CorruptFile("The PDF is damaged and its text could not be read.") from exc
    for i, doc in enumerate(docs):
        doc.metadata = {"page": i + 1, "page_label": str(doc.metadata.get("page_label", i + 1))}
    return Parsed("pdf", docs, pages)


def _parse_docx(path: Path) -> Parsed:
    from llama_index.readers.file import DocxReader

    try:
        docs = DocxReader().load_data(path)
    except Exception as exc:
        raise CorruptFile("The Word document is damaged and could not be read.") from exc
    return Parsed("docx", [Document(text="\n\n".join(d.text for d in docs))], None)


def read_text(path: Path) -> str:
    """Decode a text file: UTF-8 (with or without BOM), else the detected legacy encoding."""
    raw = path.read_bytes()
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ContentMismatch("The file looks binary, not text.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        raise ContentMismatch("The file is not readable text in any known encoding.")
    best = matches[0]
    # Short Western texts fit several code pages equally well; Windows-1252 is the usual one.
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return str(next((m for m in tied if m.encoding == "cp1252"), best))


def _parse_text(path: Path) -> Parsed:
    return Parsed("text", [Document(text=read_text(path))], None)


def _parse_markdown(path: Path) -> Parsed:
    return Parsed("markdown", [Document(text=read_text(path))], None)


def _parse_html(path: Path) -> Parsed:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(read_text(path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "iframe", "object"]):
        tag.decompose()
    # Headings become Markdown headings, so chunks know their section like in .md files.
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.replace_with(f"\n\n{'#' * level} {h.get_text(' ', strip=True)}\n\n")
    for block in soup.find_all(["p", "li", "tr", "br", "div", "section", "article"]):
        block.insert_after("\n")
    text = re.sub(r"\n{3,}", "\n\n", soup.get_text())
    text = "\n".join(line.strip() for line in text.splitlines())
    return Parsed("html", [Document(text=text.strip())], None)


def _parse_csv(path: Path) -> Parsed:
    text = read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return Parsed("csv", [Document(text="")], None)
    header, body = rows[0], rows[1:]
    # One line per row, each value with its column name, so a chunk stands on its own
    # (short rows simply have fewer cells: zip is not strict).
    lines = [
        "; ".join(
            f"{h.strip() or f'column {i + 1}'}: {v.strip()}"
            for i, (h, v) in enumerate(zip(header, row, strict=False))
            if v.strip()
        )
        for row in body
    ] or [", ".join(header)]
    return Parsed("csv", [Document(text="\n".join(lines))], None)


def _parse_json(path: Path) -> Parsed:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise CorruptFile(f"The JSON is not valid (line {exc.lineno}: {exc.msg}).") from exc
    lines: list[str] = []
    _flatten(data, "", lines)
    return Parsed("json", [Document(text="\n".join(lines))], None)


def _flatten(value, prefix: str, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out)
    elif value is not None and str(value).strip():
        out.append(f"{prefix}: {value}" if prefix else str(value))


_PARSERS = {
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "text": _parse_text,
    "markdown": _parse_markdown,
    "html": _parse_html,
    "csv": _parse_csv,
    "json": _parse_json,
}

HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def section_at(text: str, offset: int) -> str | None:
    """The last Markdown heading at or before `offset`, used to cite a chunk's section."""
    title = None
    for match in HEADING.finditer(text):
        if match.start() > offset:
            break
        title = match.group(1)
    return title
