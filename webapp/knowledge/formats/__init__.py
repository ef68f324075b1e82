"""Which files we accept, what their bytes really are, and how each becomes LlamaIndex Documents.

Every failure raises an IngestError whose message a user can act on. The kind of a file is
decided from its extension and then checked against its content (magic bytes, the content
types of a ZIP-based Office file, decoding), so a renamed binary is refused instead of being
indexed as garbage.

Uploads are hostile until proven otherwise. Parsers here turn a file into plain data
(`extract`, run by `sandbox` in a child process with time and memory limits); `parse` wraps
that into Documents. A Word document is a ZIP of XML parts, so before anything is unpacked
its table of contents is checked against zip-bomb limits (parts, declared sizes, compression
ratio), each part is read in blocks and stopped at its declared size, and its XML is parsed
with defusedxml, which refuses DTDs and so entity expansion ("billion laughs") and external
entities (XXE) outright. Only this package's code reads the bytes of an upload.

The formats themselves are listed once, in `FORMATS` (registry.py); the modules:

    registry.py  the `Format` entries and what derives from them (KINDS, TEXT_KINDS, ...)
    detect.py    the kind of a file from its name, checked against its bytes
    zipsafe.py   ZIP containers read with zip-bomb and XML-entity guards
    units.py     Extracted, Parsed, the text budget, the Markdown heading pattern
    pdf.py, docx.py, plain.py  the parsers (plain: text, Markdown, HTML, CSV, JSON)
"""

from __future__ import annotations

from pathlib import Path

from webapp.errors import NoTextFound, UnsafeFile
from webapp.knowledge.formats.detect import binary_content, detect_kind
from webapp.knowledge.formats.plain import read_text
from webapp.knowledge.formats.registry import (
    EXTENSIONS,
    FORMATS,
    KINDS,
    PARSERS,
    TEXT_KINDS,
    WARM_MODULES,
    Format,
)
from webapp.knowledge.formats.units import HEADING, Extracted, Parsed, TextBudget
from webapp.knowledge.formats.zipsafe import open_zip, zip_directory, zip_kind

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "HEADING",
    "KINDS",
    "TEXT_KINDS",
    "WARM_MODULES",
    "Extracted",
    "Format",
    "Parsed",
    "TextBudget",
    "UnsafeFile",
    "binary_content",
    "detect_kind",
    "extract",
    "open_zip",
    "parse",
    "read_text",
    "to_parsed",
    "zip_directory",
    "zip_kind",
]


def extract(path: Path, kind: str, max_chars: int | None = None) -> Extracted:
    """The text units of a file as plain data; refuses files with nothing to index, and
    files with more than `max_chars` characters of text as soon as they pass it."""
    extracted = PARSERS[kind](path, TextBudget(max_chars))
    extracted.units = [(text, meta) for text, meta in extracted.units if text.strip()]
    if not extracted.units:
        if kind == "pdf":
            raise NoTextFound(
                "No text could be extracted: the PDF may be scanned images (it needs OCR first)."
            )
        raise NoTextFound("The file contains no text to index.")
    return extracted


def to_parsed(extracted: Extracted) -> Parsed:
    from llama_index.core import Document

    documents = [Document(text=text, metadata=dict(meta)) for text, meta in extracted.units]
    return Parsed(extracted.kind, documents, extracted.pages)


def parse(path: Path, kind: str, max_chars: int | None = None) -> Parsed:
    """Parse in this process. Uploads go through `sandbox.parse`, which runs `extract` in a
    child process with time and memory limits."""
    return to_parsed(extract(path, kind, max_chars))
