"""What a file is: its kind from its extension (in `registry.KINDS`), checked against its
content (magic bytes, the content types of a ZIP-based Office file), so a renamed binary is
refused instead of being indexed as garbage."""

from __future__ import annotations

import contextlib
from pathlib import Path

from webapp.errors import ContentMismatch, EmptyFile, IngestError, UnsupportedFileType
from webapp.knowledge.formats.registry import FORMATS, KINDS, TEXT_KINDS
from webapp.knowledge.formats.zipsafe import ZIP_KINDS, zip_kind

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


def detect_kind(path: Path, name: str) -> str:
    """Kind of the upload from its name, verified against its bytes."""
    ext = Path(name).suffix.lower()
    kind = KINDS.get(ext)
    if kind is None:
        accepted = ", ".join(f.extensions[0].lstrip(".").upper() for f in FORMATS)
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
