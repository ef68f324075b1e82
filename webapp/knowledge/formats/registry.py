"""The accepted file formats, one `Format` entry each. Everything that depends on which
formats exist derives from `FORMATS`: the extensions accepted (`KINDS`), which kinds are
text, the parser of each kind, the modules a sandbox worker imports when it starts, the
kind labels the UI shows, the files the CLI picks from a folder. A new format is a parser
module and one entry here (and, for a binary format, its content check in
`detect.detect_kind`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from webapp.knowledge.formats.docx import parse_docx
from webapp.knowledge.formats.pdf import parse_pdf
from webapp.knowledge.formats.plain import (
    parse_csv,
    parse_html,
    parse_json,
    parse_markdown,
    parse_text,
)
from webapp.knowledge.formats.units import Extracted, TextBudget


@dataclass(frozen=True)
class Format:
    """One accepted file format."""

    kind: str  # stored with each chunk; what a search can be kept to (Scope.kinds)
    extensions: tuple[str, ...]  # lower case, with the dot; the first is named in messages
    label: str  # its name in the UI (which translates it where i18n has "kind_<kind>")
    extract: Callable[[Path, TextBudget], Extracted]  # the parser: the file's text units
    text: bool = False  # read as text: refused when its bytes are a known binary format
    warm_modules: tuple[str, ...] = ()  # what `extract` imports, loaded when a worker starts


DECODE = ("charset_normalizer",)  # read_text's decoder for files that are not UTF-8

FORMATS: tuple[Format, ...] = (
    # kind, extensions, label, parser, text, warm modules
    Format("pdf", (".pdf",), "PDF", parse_pdf, False, ("pypdf",)),
    Format("docx", (".docx",), "Word", parse_docx, False, ("defusedxml.ElementTree",)),
    Format("text", (".txt", ".text"), "Text", parse_text, True, DECODE),
    Format("markdown", (".md", ".markdown"), "Markdown", parse_markdown, True, DECODE),
    Format("html", (".html", ".htm"), "HTML", parse_html, True, ("bs4", *DECODE)),
    Format("csv", (".csv",), "CSV", parse_csv, True, DECODE),
    Format("json", (".json",), "JSON", parse_json, True, DECODE),
)

KINDS: dict[str, str] = {ext: f.kind for f in FORMATS for ext in f.extensions}  # ext -> kind
EXTENSIONS: tuple[str, ...] = tuple(KINDS)
TEXT_KINDS: frozenset[str] = frozenset(f.kind for f in FORMATS if f.text)
PARSERS: dict[str, Callable[[Path, TextBudget], Extracted]] = {f.kind: f.extract for f in FORMATS}
WARM_MODULES: tuple[str, ...] = tuple(dict.fromkeys(m for f in FORMATS for m in f.warm_modules))
