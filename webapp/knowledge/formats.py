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
entities (XXE) outright. Only this module's code reads the bytes of an upload.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webapp.errors import (
    ContentMismatch,
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    IngestError,
    NoTextFound,
    TooMuchText,
    UnsafeFile,
    UnsupportedFileType,
)

if TYPE_CHECKING:  # llama_index is heavy: the sandbox's worker never imports it
    from llama_index.core import Document

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
OLD_OFFICE = "an old-style Office file (.doc, .xls, .ppt) or a password-protected Office document"
BINARY_SIGNATURES = {
    b"%PDF-": "a PDF",
    b"PK\x03\x04": "a ZIP archive (or an Office document)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x7fELF": "a program",
    b"MZ": "a Windows program",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": OLD_OFFICE,
    b"PK\x05\x06": "an empty ZIP archive",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"Rar!\x1a\x07": "a RAR archive",
    b"\xfd7zXZ\x00": "an xz archive",
    b"\x28\xb5\x2f\xfd": "a zstd archive",
    b"SQLite format 3\x00": "a SQLite database",
    b"\xcf\xfa\xed\xfe": "a program",
    b"\xce\xfa\xed\xfe": "a program",
    b"\xca\xfe\xba\xbe": "a program",
    b"\x00asm": "a program",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"OggS": "an audio or video file",
    b"fLaC": "an audio file",
    b"ID3\x02": "an MP3 audio file",
    b"ID3\x03": "an MP3 audio file",
    b"ID3\x04": "an MP3 audio file",
    b"\x1a\x45\xdf\xa3": "a video file",
    b"wOFF": "a font",
    b"wOF2": "a font",
}
ZIP_KINDS = {
    "docx": "a Word document",
    "xlsx": "an Excel workbook",
    "pptx": "a PowerPoint presentation",
    "epub": "an EPUB e-book",
    "opendocument": "an OpenDocument file",
}

# Zip-bomb limits, checked on the table of contents before anything is unpacked. The ratio
# rule is Apache POI's (ZipSecureFile): a part may not expand more than 100 times, except
# small parts, which legitimately compress very well.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_DIRECTORY = 2 * 1024 * 1024  # bytes of table of contents: bounds zipfile's index
MAX_ZIP_TOTAL = 512 * 1024 * 1024  # declared unpacked size of all parts together
MAX_ZIP_RATIO = 100
ZIP_RATIO_GRACE = 1024 * 1024  # parts up to this size may have any ratio
# ...but not all of them together: the same rule over the whole archive, past this size
# (a Word file of 400 small parts under the grace was 400 MB unpacked from 1.8 MB).
ZIP_TOTAL_GRACE = 16 * 1024 * 1024
MAX_XML_PART = 256 * 1024 * 1024  # one text part (streamed, never held whole)
MAX_CONTENT_TYPES = 1024 * 1024  # read by the server itself to tell the kind of a ZIP
MAX_STYLES = 8 * 1024 * 1024  # parsed whole (in the sandbox)
READ_BLOCK = 64 * 1024
MB = 1024 * 1024

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"


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


# -- what a file is -----------------------------------------------------------------------
def detect_kind(path: Path, name: str) -> str:
    """Kind of the upload from its name, verified against its bytes."""
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
        head = f.read(64)
    if not head:
        raise EmptyFile("The file is empty.")
    what = binary_content(head)
    if kind == "pdf" and not head.startswith(b"%PDF-"):
        content = f"{what}, not a PDF" if what else "not a PDF"
        raise ContentMismatch(f"The file is named .pdf but its content is {content}.")
    if kind == "docx":
        if not head.startswith(b"PK\x03\x04"):
            if what == OLD_OFFICE:
                raise ContentMismatch(
                    f"The file is named .docx but its content is {what}; save it as a .docx "
                    "without a password and upload it again."
                )
            content = f"{what}, not a Word document" if what else "not a Word document"
            raise ContentMismatch(f"The file is named .docx but its content is {content}.")
        found = zip_kind(path, "The Word document")
        if found != "docx":
            content = f"{ZIP_KINDS[found]}, not" if found else "not"
            raise ContentMismatch(
                f"The file is named .docx but its content is {content} a Word document."
            )
    if kind in TEXT_KINDS and what:
        if head.startswith(b"PK\x03\x04"):
            with contextlib.suppress(IngestError):
                what = ZIP_KINDS.get(zip_kind(path, "The file") or "", what)
        raise ContentMismatch(f"The file is named {ext} but its content is {what}.")
    return kind


def binary_content(head: bytes) -> str | None:
    """What a binary file's first bytes say it is, or None (text, or unknown)."""
    for signature, what in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            return what
    if head[4:8] == b"ftyp":
        return "a video or audio file"
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI ", b"WEBP"):
        return "an audio, video or image file"
    return None


def zip_kind(path: Path, what: str) -> str | None:
    """Which Office (or e-book) format a ZIP holds, from its declared content types;
    None for any other ZIP. Refuses zip bombs and XML entities like the parsers do."""
    with open_zip(path, what) as z:
        return _zip_main_part(z, what)[0]


def _zip_main_part(z: zipfile.ZipFile, what: str) -> tuple[str | None, str | None]:
    names = {n.lower(): n for n in z.namelist()}
    if "[content_types].xml" in names:
        root = _read_xml(z, names["[content_types].xml"], what, MAX_CONTENT_TYPES)
        for override in root.iter(f"{CT}Override"):
            content_type = override.get("ContentType", "").lower()
            if not content_type.endswith(".main+xml"):
                continue
            part = names.get(override.get("PartName", "").lstrip("/").lower())
            for kind, markers in (
                ("docx", ("wordprocessingml.", "ms-word.")),
                ("xlsx", ("spreadsheetml.", "ms-excel.")),
                ("pptx", ("presentationml.", "ms-powerpoint.")),
            ):
                if any(m in content_type for m in markers):
                    return kind, part
    if "word/document.xml" in names:
        return "docx", names["word/document.xml"]
    if "mimetype" in names and z.getinfo(names["mimetype"]).file_size <= 256:
        mimetype = _read_part(z, z.getinfo(names["mimetype"]), what, cap=256).strip()
        if mimetype == b"application/epub+zip":
            return "epub", None
        if mimetype.startswith(b"application/vnd.oasis.opendocument."):
            return "opendocument", None
    return None, None


# -- ZIP containers, read defensively ------------------------------------------------------
def zip_directory(path: Path) -> tuple[int, int] | None:
    """Entry count and table-of-contents size from the ZIP's end record, found the way
    zipfile finds it, so they can be checked before zipfile indexes every entry in memory.
    None when there is no end record."""
    with path.open("rb") as f:
        size = f.seek(0, io.SEEK_END)
        window = min(size, 22 + 0xFFFF + 20 + 56)
        f.seek(size - window)
        tail = f.read(window)
    pos = len(tail) - 22
    if pos < 0:
        return None
    if not (tail[pos : pos + 4] == b"PK\x05\x06" and tail[-2:] == b"\x00\x00"):
        pos = tail.rfind(b"PK\x05\x06", 0, len(tail) - 21)
        if pos < 0:
            return None
    *_, entries, directory_size, _offset, _comment = struct.unpack("<4s4H2LH", tail[pos : pos + 22])
    locator = pos - 20
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":  # ZIP64
        record = locator - 56
        if record < 0 or tail[record : record + 4] != b"PK\x06\x06":
            return None
        fields = struct.unpack("<4sQ2H2L4Q", tail[record : record + 56])
        entries, directory_size = fields[7], fields[8]
    return entries, directory_size


@contextmanager
def open_zip(path: Path, what: str) -> Iterator[zipfile.ZipFile]:
    """The ZIP at `path`, once its table of contents passes the zip-bomb checks."""
    directory = zip_directory(path)
    if directory is None:
        raise CorruptFile(f"{what} is damaged: its table of contents is missing.")
    entries, directory_size = directory
    if entries > MAX_ZIP_ENTRIES or directory_size > MAX_ZIP_DIRECTORY:
        raise UnsafeFile(f"{what} was refused: it holds more than {MAX_ZIP_ENTRIES:,} parts.")
    try:
        z = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, NotImplementedError, ValueError, EOFError...
        raise CorruptFile(f"{what} is damaged and could not be opened.") from exc
    with z:
        infos = z.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise UnsafeFile(f"{what} was refused: it holds more than {MAX_ZIP_ENTRIES:,} parts.")
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise EncryptedFile(
                    f"{what} is password-protected; remove the password and upload it again."
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise CorruptFile(f"{what} uses a compression method Office files never use.")
            total += info.file_size
            if info.file_size > ZIP_RATIO_GRACE and (
                info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1)
            ):
                raise UnsafeFile(
                    f"{what} was refused: one of its parts would expand more than "
                    f"{MAX_ZIP_RATIO} times when unpacked, which is how 'zip bombs' overload "
                    "servers."
                )
        packed = max(path.stat().st_size, 1)
        if total > ZIP_TOTAL_GRACE and total > MAX_ZIP_RATIO * packed:
            raise UnsafeFile(
                f"{what} was refused: its parts together would expand more than "
                f"{MAX_ZIP_RATIO} times when unpacked, which is how 'zip bombs' overload "
                "servers."
            )
        if total > MAX_ZIP_TOTAL:
            raise UnsafeFile(
                f"{what} was refused: it would unpack to more than {MAX_ZIP_TOTAL >> 20} MB, "
                "which is how 'zip bombs' overload servers."
            )
        yield z


class _PartReader:
    """One ZIP part read in blocks, stopped as soon as it unpacks to more than it declared."""

    def __init__(self, z: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, cap: int):
        if info.file_size > cap:
            raise UnsafeFile(
                f"{what} was refused: one of its parts unpacks to more than {cap >> 20} MB."
            )
        self._stream = z.open(info)
        self._limit = info.file_size
        self._what = what
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(READ_BLOCK if n is None or n < 0 else min(n, READ_BLOCK))
        self.size += len(data)
        if self.size > self._limit:
            raise UnsafeFile(
                f"{self._what} was refused: one of its parts unpacks to more data than it "
                "declares, which is how 'zip bombs' hide their size."
            )
        return data

    def close(self) -> None:
        self._stream.close()


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turn what can go wrong while unpacking and parsing XML into plain-words errors."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException

    try:
        yield
    except DefusedXmlException as exc:
        raise UnsafeFile(
            f"{what} contains XML entity declarations (a DTD), which are not allowed."
        ) from exc
    except ParseError as exc:
        raise CorruptFile(f"{what} is damaged: its text is not valid XML.") from exc
    except zipfile.BadZipFile as exc:
        raise CorruptFile(
            f"{what} was refused: its contents do not match the sizes and checksums it "
            "declares, so it is damaged or built to hide its real size."
        ) from exc
    except (EOFError, zlib.error, OSError, ValueError) as exc:
        raise CorruptFile(f"{what} is damaged and could not be read.") from exc


def _read_part(z: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, cap: int) -> bytes:
    with _reading(what):
        reader = _PartReader(z, info, what, cap)
        try:
            return b"".join(iter(reader.read, b""))
        finally:
            reader.close()


def _read_xml(z: zipfile.ZipFile, name: str, what: str, cap: int):
    """A small XML part (content types, styles) as an element tree, DTDs refused."""
    from defusedxml.ElementTree import fromstring

    data = _read_part(z, z.getinfo(name), what, cap)
    with _reading(what):
        return fromstring(data, forbid_dtd=True)


# -- parsing --------------------------------------------------------------------------------
def extract(path: Path, kind: str, max_chars: int | None = None) -> Extracted:
    """The text units of a file as plain data; refuses files with nothing to index, and
    files with more than `max_chars` characters of text as soon as they pass it."""
    extracted = _PARSERS[kind](path, TextBudget(max_chars))
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


def _whole(kind: str, text: str, budget: TextBudget) -> Extracted:
    return Extracted(kind, [(budget.take(text), {})], None)


def _parse_pdf(path: Path, budget: TextBudget) -> Extracted:
    import pypdf

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
        loops = "cyclic" in str(exc).lower() or "circular" in str(exc).lower()
        raise CorruptFile(
            "The PDF is damaged: its pages refer to themselves in a loop, so it could not be read."
            if loops
            else "The PDF is damaged and could not be read."
        ) from exc
    try:
        labels = list(reader.page_labels)
    except Exception:
        labels = []
    units = []
    try:
        for i, page in enumerate(reader.pages):
            label = labels[i] if i < len(labels) else str(i + 1)
            text = budget.take(page.extract_text() or "")
            units.append((text, {"page": i + 1, "page_label": str(label)}))
    except pypdf.errors.LimitReachedError as exc:
        raise CorruptFile(
            f"Page {len(units) + 1} of the PDF unpacks to far more text than a real page "
            "holds, so it was not read: the file may be built to overload the server."
        ) from exc
    except TooMuchText:
        raise
    except Exception as exc:
        raise CorruptFile("The PDF is damaged and its text could not be read.") from exc
    return Extracted("pdf", units, pages)


def _parse_docx(path: Path, budget: TextBudget) -> Extracted:
    what = "The Word document"
    with open_zip(path, what) as z:
        kind, main = _zip_main_part(z, what)
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
    for style in _read_xml(z, styles, what, MAX_STYLES).iter(f"{W}style"):
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
    with _reading(what):
        reader = _PartReader(z, z.getinfo(name), what, cap=MAX_XML_PART)
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


def _parse_text(path: Path, budget: TextBudget) -> Extracted:
    return _whole("text", read_text(path), budget)


def _parse_markdown(path: Path, budget: TextBudget) -> Extracted:
    return _whole("markdown", read_text(path), budget)


def _parse_html(path: Path, budget: TextBudget) -> Extracted:
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


def _parse_csv(path: Path, budget: TextBudget) -> Extracted:
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


def _parse_json(path: Path, budget: TextBudget) -> Extracted:
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
