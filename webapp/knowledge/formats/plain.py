"""Files that are text: plain text, Markdown, HTML (BeautifulSoup, headings kept as
Markdown headings), CSV (one line per row, each value with its column name) and JSON
(flattened to paths). All are decoded by `read_text`: UTF-8, else the detected encoding."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from webapp.errors import ContentMismatch, CorruptFile
from webapp.knowledge.formats.units import Extracted, TextBudget


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


def _whole(kind: str, text: str, budget: TextBudget) -> Extracted:
    return Extracted(kind, [(budget.take(text), {})], None)


def parse_text(path: Path, budget: TextBudget) -> Extracted:
    return _whole("text", read_text(path), budget)


def parse_markdown(path: Path, budget: TextBudget) -> Extracted:
    return _whole("markdown", read_text(path), budget)


def parse_html(path: Path, budget: TextBudget) -> Extracted:
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
    return _whole("html", text.strip(), budget)


def parse_csv(path: Path, budget: TextBudget) -> Extracted:
    text = read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    # Row by row, each counted as it is read: a table of millions of rows stops at the
    # text limit instead of being held whole first.
    rows = (r for r in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in r))
    lines: list[str] = []
    try:
        header = next(rows, None)
        if header is None:
            return Extracted("csv", [("", {})], None)
        # One line per row, each value with its column name, so a chunk stands on its own
        # (short rows simply have fewer cells: zip is not strict).
        for row in rows:
            line = "; ".join(
                f"{h.strip() or f'column {i + 1}'}: {v.strip()}"
                for i, (h, v) in enumerate(zip(header, row, strict=False))
                if v.strip()
            )
            lines.append(budget.take(line + "\n"))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KB limit
        raise CorruptFile(f"The CSV could not be read ({exc}).") from exc
    if not lines:
        return _whole("csv", ", ".join(header), budget)
    return Extracted("csv", [("".join(lines)[:-1], {})], None)


def parse_json(path: Path, budget: TextBudget) -> Extracted:
    text = read_text(path)
    try:
        data = json.loads(text)
        del text
        lines: list[str] = []
        _flatten(data, "", lines, budget)
    except json.JSONDecodeError as exc:
        raise CorruptFile(f"The JSON is not valid (line {exc.lineno}: {exc.msg}).") from exc
    except RecursionError as exc:
        raise CorruptFile("The JSON is nested too deeply to be read.") from exc
    return Extracted("json", [("\n".join(lines), {})], None)


def _flatten(value, prefix: str, out: list[str], budget: TextBudget) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out, budget)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out, budget)
    elif value is not None and str(value).strip():
        out.append(budget.take(f"{prefix}: {value}" if prefix else str(value)))
