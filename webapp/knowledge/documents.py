"""What the knowledge base holds, as read from Chroma: documents and their chunks.

Chroma is the single source of truth. Every chunk carries its document's id, file name,
content hash, size and date in its metadata, and the first chunk of a document (chunk_index
0) doubles as the document's registry entry, so the document list, dedup and delete need no
second store that could drift out of step, and any replica sharing the Chroma server sees
the same documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webapp.errors import DocumentNotFound
from webapp.knowledge.chunking import SOURCE_CHARS
from webapp.knowledge.store import get_all
from webapp.owners import owner_key

CHUNK_METADATA_KEYS = {"chunk_index", "doc_chunks", "section", "chunk_key"}


@dataclass
class DocumentInfo:
    id: str
    file: str
    chunks: int
    pages: int | None
    bytes: int
    added: str
    kind: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "chunks": self.chunks,
            "pages": self.pages,
            "bytes": self.bytes,
            "added": self.added,
        }

    @property
    def original_name(self) -> str:
        """The stored original's file name in the owner's folder: the id and the extension."""
        return f"{self.id}{Path(self.file).suffix.lower()}"


@dataclass
class Chunk:
    index: int
    text: str
    page: int | None
    section: str | None
    start: int | None  # character offsets in `part`
    end: int | None
    file_id: str = ""
    part: str | None = None  # the page or piece of the document the chunk was cut from


def safe_display_name(name: str) -> str:
    """The file name a user sees: no folders, no control characters, bounded length."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip() or "unnamed"
    if len(base) > 200:
        stem, ext = Path(base).stem, Path(base).suffix[:16]
        base = stem[: 200 - len(ext)] + ext
    return base


def registry_entry(doc_id: str) -> dict:
    """The `where` of a document's registry entry (its first chunk)."""
    return {"$and": [{"file_id": doc_id}, {"chunk_index": 0}]}


def listed(collection) -> list[DocumentInfo]:
    """Every document in the collection, in no particular order."""
    got = get_all(collection, ["metadatas"], where={"chunk_index": 0})
    return [doc_info(m) for m in got["metadatas"]]


def find(collection, doc_id: str) -> DocumentInfo:
    got = collection.get(where=registry_entry(doc_id), include=["metadatas"])
    if not got["metadatas"]:
        raise DocumentNotFound("That document does not exist (it may have been deleted).")
    return doc_info(got["metadatas"][0])


def chunk_rows(owner: str, collection, where: dict) -> list[Chunk]:
    """The chunks matching `where`; a row of another owner is dropped."""
    got = collection.get(where=where, include=["documents", "metadatas"])
    key, out = owner_key(owner), []
    for text, meta in zip(got["documents"], got["metadatas"], strict=True):
        if meta.get("owner", key) != key:
            continue
        start, end = _offsets(meta)
        index, section = int(meta["chunk_index"]), meta.get("section")
        file_id, part = meta.get("file_id", ""), meta.get("ref_doc_id")
        text = text[:SOURCE_CHARS]  # (a chunk stored before chunks were bounded)
        out.append(Chunk(index, text, meta.get("page"), section, start, end, file_id, part))
    return out


def doc_info(meta: dict) -> DocumentInfo:
    return DocumentInfo(
        id=meta["file_id"],
        file=meta["file"],
        chunks=int(meta["doc_chunks"]),
        pages=meta.get("pages"),
        bytes=int(meta["bytes"]),
        added=meta["added"],
        kind=meta.get("kind", ""),
        sha256=meta.get("sha256", ""),
    )


def _offsets(meta: dict) -> tuple[int | None, int | None]:
    content = json.loads(meta.get("_node_content", "{}"))
    return content.get("start_char_idx"), content.get("end_char_idx")
