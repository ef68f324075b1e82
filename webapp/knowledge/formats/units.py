"""What a parser gives: text units as plain data (`Extracted`), as Documents (`Parsed`), and
the text budget that stops a file at its character limit while it is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webapp.errors import TooMuchText

if TYPE_CHECKING:  # llama_index is heavy: the sandbox's worker never imports it
    from llama_index.core import Document

MB = 1024 * 1024

# A Markdown heading; the parsers write the headings of Word and HTML files this way too.
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass
class Extracted:
    """What a parser found, as plain data (it crosses the sandbox's process boundary):
    the text and metadata of each unit (a PDF page, or the whole file), and the page count."""

    kind: str
    units: list[tuple[str, dict[str, Any]]]
    pages: int | None


@dataclass
class Parsed:
    """The text units of one file: a Document per PDF page, or one for the whole file."""

    kind: str
    documents: list[Document]
    pages: int | None


class TextBudget:
    """The characters of text one file may give, counted over all its parts (pages, Word
    headers, rows) as they are read, so a file made of many small parts that are each
    harmless stops at the total instead of reaching the server whole (400 header parts of
    1 MB each were 400 MB of text from a 1 MB upload)."""

    def __init__(self, max_chars: int | None = None):
        self.max_chars = max_chars
        self.used = 0

    def take(self, text: str) -> str:
        self.used += len(text)
        if self.max_chars is not None and self.used > self.max_chars:
            raise TooMuchText(
                f"The file holds more than {self.max_chars / MB:g} MB of text, more than one "
                "upload may hold. Split it into smaller files and upload those."
            )
        return text
