"""ZIP containers (Word documents), read defensively: the table of contents is checked
against zip-bomb limits (parts, declared sizes, compression ratio) before anything is
unpacked, each part is read in blocks and stopped at its declared size, and XML is parsed
with defusedxml, which refuses DTDs and so entity expansion ("billion laughs") and external
entities (XXE) outright. Also which Office (or e-book) format a ZIP holds."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from webapp.errors import CorruptFile, EncryptedFile, UnsafeFile

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

CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"


def zip_kind(path: Path, what: str) -> str | None:
    """Which Office (or e-book) format a ZIP holds, from its declared content types;
    None for any other ZIP. Refuses zip bombs and XML entities like the parsers do."""
    with open_zip(path, what) as z:
        return zip_main_part(z, what)[0]


def zip_main_part(z: zipfile.ZipFile, what: str) -> tuple[str | None, str | None]:
    """The kind a ZIP holds (a key of ZIP_KINDS, or None) and the name of its main part."""
    names = {n.lower(): n for n in z.namelist()}
    if "[content_types].xml" in names:
        root = read_xml(z, names["[content_types].xml"], what, MAX_CONTENT_TYPES)
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
        mimetype = read_part(z, z.getinfo(names["mimetype"]), what, cap=256).strip()
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


class PartReader:
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
def reading(what: str) -> Iterator[None]:
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


def read_part(z: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, cap: int) -> bytes:
    with reading(what):
        reader = PartReader(z, info, what, cap)
        try:
            return b"".join(iter(reader.read, b""))
        finally:
            reader.close()


def read_xml(z: zipfile.ZipFile, name: str, what: str, cap: int):
    """A small XML part (content types, styles) as an element tree, DTDs refused."""
    from defusedxml.ElementTree import fromstring

    data = read_part(z, z.getinfo(name), what, cap)
    with reading(what):
        return fromstring(data, forbid_dtd=True)
