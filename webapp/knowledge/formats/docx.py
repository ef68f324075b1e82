"""Word documents (.docx), read by our own streamed reader of their XML: paragraphs, with
headings as Markdown headings, and table rows; headers and footers last. The ZIP around
the XML is opened through `zipsafe`, so zip bombs and XML entities are refused first."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from webapp.errors import ContentMismatch, CorruptFile
from webapp.knowledge.formats.units import Extracted, TextBudget
from webapp.knowledge.formats.zipsafe import (
    MAX_STYLES,
    MAX_XML_PART,
    PartReader,
    open_zip,
    read_xml,
    reading,
    zip_main_part,
)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def parse_docx(path: Path, budget: TextBudget) -> Extracted:
    what = "The Word document"
    with open_zip(path, what) as z:
        kind, main = zip_main_part(z, what)
        if kind != "docx":
            raise ContentMismatch("The file is named .docx but its content is not a Word document.")
        names = {n.lower(): n for n in z.namelist()}
        main = main or names.get("word/document.xml")
        if main is None:
            raise CorruptFile(f"{what} is damaged: the part holding its text is missing.")
        levels = _heading_levels(z, names.get("word/styles.xml"), what)
        blocks = _docx_blocks(z, main, levels, what, budget)
        # Headers and footers last (docx2txt, used before, kept them too).
        extra = sorted(n for n in z.namelist() if re.fullmatch(r"word/(header|footer)\d*\.xml", n))
        for name in extra:
            blocks += _docx_blocks(z, name, levels, what, budget)
    return Extracted("docx", [("\n\n".join(blocks), {})], None)


def _heading_levels(z: zipfile.ZipFile, styles: str | None, what: str) -> dict[str, int]:
    """Heading level of each paragraph style id. Style ids are translated in localized Word
    (German 'berschrift1'), their names are not ('heading 1')."""
    if styles is None:
        return {}
    levels = {}
    for style in read_xml(z, styles, what, MAX_STYLES).iter(f"{W}style"):
        sid = style.get(f"{W}styleId")
        name_el = style.find(f"{W}name")
        name = (name_el.get(f"{W}val", "") if name_el is not None else "").lower()
        outline = style.find(f"{W}pPr/{W}outlineLvl")
        if (m := re.fullmatch(r"heading ([1-9])", name)) is not None:
            level = int(m.group(1))
        elif name == "title":
            level = 1
        elif outline is not None:
            level = _outline_level(outline.get(f"{W}val", ""))
        else:
            level = 0
        if sid and level:
            levels[sid] = level
    return levels


def _outline_level(value: str) -> int:
    """Heading level of a w:outlineLvl value: 0-8 are headings 1-9, 9 is body text."""
    return int(value) + 1 if len(value) == 1 and value in "012345678" else 0


def _docx_blocks(
    z: zipfile.ZipFile, name: str, levels: dict[str, int], what: str, budget: TextBudget
) -> list[str]:
    """Paragraphs (headings as Markdown headings) and table rows ('a | b') of one part,
    streamed: finished paragraphs are dropped from the tree, so memory stays small."""
    from defusedxml.ElementTree import iterparse

    blocks: list[str] = []
    paragraphs: list[dict] = []  # open paragraphs (text boxes nest them)
    rows: list[list[str]] = []  # open table rows (tables nest)
    cells: list[list[str]] = []  # open cells, their finished paragraphs
    stack: list = []
    fallback = 0  # inside mc:Fallback, which repeats mc:Choice (text boxes)
    with reading(what):
        reader = PartReader(z, z.getinfo(name), what, cap=MAX_XML_PART)
        try:
            for event, elem in iterparse(reader, ("start", "end"), forbid_dtd=True):
                tag = elem.tag
                if event == "start":
                    stack.append(elem)
                    if tag == MC_FALLBACK:
                        fallback += 1
                    elif fallback:
                        pass
                    elif tag == f"{W}p":
                        paragraphs.append({"runs": [], "level": 0})
                    elif tag == f"{W}tr":
                        rows.append([])
                    elif tag == f"{W}tc":
                        cells.append([])
                    continue
                stack.pop()
                if stack:  # every child seen so far has been read: drop them from the tree
                    stack[-1].clear()
                if tag == MC_FALLBACK:
                    fallback -= 1
                if fallback or tag == MC_FALLBACK:
                    continue
                if paragraphs:
                    runs = paragraphs[-1]["runs"]
                    if tag == f"{W}t":
                        runs.append(elem.text or "")
                    elif tag == f"{W}tab":
                        runs.append("\t")
                    elif tag in (f"{W}br", f"{W}cr"):
                        runs.append("\n")
                    elif tag == f"{W}pStyle":
                        paragraphs[-1]["level"] = levels.get(elem.get(f"{W}val", ""), 0)
                    elif tag == f"{W}outlineLvl":
                        paragraphs[-1]["level"] = _outline_level(elem.get(f"{W}val", ""))
                if tag == f"{W}p" and paragraphs:
                    done = paragraphs.pop()
                    text = "".join(done["runs"]).strip()
                    if text and done["level"]:
                        text = f"{'#' * min(done['level'], 6)} {' '.join(text.split())}"
                    if text:
                        (cells[-1] if cells else blocks).append(budget.take(text))
                elif tag == f"{W}tc" and cells:
                    cell = " ".join(cells.pop())
                    if rows:
                        rows[-1].append(cell)
                elif tag == f"{W}tr" and rows:
                    row = rows.pop()
                    if any(c.strip() for c in row):
                        (cells[-1] if cells else blocks).append(" | ".join(row))
        finally:
            reader.close()
    return blocks
