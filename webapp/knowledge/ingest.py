"""Ingestion: an upload becomes chunks in Chroma, or a plain message and no change at all.

The steps: size limit, the file's real kind (`formats.detect_kind`), dedup by content hash,
quotas, parsing in the sandbox, splitting (LlamaIndex's pipeline with our bounded splitter),
then the marker, the stored original, and the chunks embedded and stored in batches with the
registry entry last (see `recovery`). A new version replaces the old only once it is fully
stored; whatever fails, what was stored of this upload is removed again.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from webapp.errors import (
    DiskFull,
    FileTooLarge,
    IngestError,
    QuotaExceeded,
    StoreUnavailable,
    TooMuchText,
)
from webapp.files import atomic_copy, atomic_write_json, is_disk_full, sha256_file
from webapp.knowledge import formats, recovery, sandbox, store
from webapp.knowledge.documents import CHUNK_METADATA_KEYS, DocumentInfo, safe_display_name
from webapp.owners import owner_key

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode

    from webapp.knowledge.base import KnowledgeBase

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
EMBED_BATCH = 64
STORE_BATCH = 1024  # chunks embedded and stored together (bounds the vectors held)
MB = 1024 * 1024
DISK_FULL = "The server's disk is full, so this file was not stored. Nothing else was changed."


@dataclass
class IngestResult:
    file: str
    status: str  # indexed | replaced | unchanged | failed
    chunks: int = 0
    message: str = ""
    doc_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def describe(self) -> str:
        if self.status in ("indexed", "replaced"):
            verb = "replaced the old version," if self.status == "replaced" else "indexed"
            return f"{verb} {self.chunks} chunk{'s' if self.chunks != 1 else ''}"
        if self.status == "unchanged":
            return f"unchanged ({self.message})"
        return f"failed: {self.message}"


def ingest(kb: KnowledgeBase, owner: str, path: Path, name: str, progress: Progress):
    """One upload, under the owner's lock; every expected failure becomes a failed result."""
    display = safe_display_name(name)
    try:
        with kb.lock(owner):
            return _ingest(kb, owner, path, display, progress)
    except (IngestError, StoreUnavailable) as exc:
        return IngestResult(display, "failed", message=str(exc))
    except Exception as exc:
        if message := store.store_failure(exc):
            log.warning("the Chroma server failed a request", exc_info=True)
            return IngestResult(display, "failed", message=message)
        if not is_disk_full(exc):
            raise
        log.warning("disk full while storing an upload", exc_info=True)
        return IngestResult(display, "failed", message=DISK_FULL)


def _ingest(kb: KnowledgeBase, owner: str, path: Path, name: str, progress: Progress):
    size = path.stat().st_size
    limit = kb.settings.max_upload_mb
    if size > limit * MB:
        raise FileTooLarge(f"The file is {size / 2**20:.1f} MB; the limit is {limit:g} MB.")
    kind = formats.detect_kind(path, name)
    digest = sha256_file(path)
    existing = kb.list_documents(owner)
    same = next((d for d in existing if d.sha256 == digest), None)
    if same is not None:
        note = "already indexed" if same.file == name else f"same content as '{same.file}'"
        return IngestResult(name, "unchanged", same.chunks, note, same.id)
    old = [d for d in existing if d.file == name]
    check_quota(kb.settings, existing, old, size)
    progress(0.05, "reading")
    parsed = sandbox.parse(
        path,
        kind,
        timeout_s=kb.settings.parse_timeout_s,
        memory_mb=kb.settings.parse_memory_mb,
        max_chars=int(kb.settings.max_text_mb * MB),
    )
    progress(0.08, "splitting")
    doc_id = uuid.uuid4().hex[:16]
    nodes = split(kb.splitter, parsed, doc_id, name, digest, size, owner)
    del parsed  # the text lives on in the chunks
    check_chunks(kb.settings, kb.count_chunks(owner), old, len(nodes))
    _store(kb, owner, path, name, doc_id, nodes, old, progress)
    return _replace(kb, owner, name, doc_id, len(nodes), old)


def _store(kb, owner, path: Path, name: str, doc_id: str, nodes, old, progress) -> None:
    folder = kb.folder(owner)
    stored = folder / f"{doc_id}{Path(name).suffix.lower()}"
    pending = recovery.marker(folder, doc_id, recovery.PENDING)
    record = {"file": name, "started": recovery.now(), "replaces": [d.id for d in old]}
    try:
        # The marker comes first and goes last: after a crash, reconcile knows which
        # upload was cut short (and which older version it was replacing).
        atomic_write_json(pending, record)
        atomic_copy(path, stored)
        kb.changed(owner)
        kb.embed_and_store(owner, nodes, progress)  # the registry entry goes in last
    except BaseException as exc:
        full = is_disk_full(exc)
        if full:
            log.warning("disk full while storing an upload", exc_info=True)
            store.reopen(kb.client)
        _discard(kb, owner, doc_id, [stored, pending], record)
        if full:
            raise DiskFull(DISK_FULL) from exc
        raise


def _replace(kb, owner: str, name: str, doc_id: str, chunks: int, old: list[DocumentInfo]):
    """The new version is stored: the older ones go, then the marker."""
    try:
        for info in old:
            kb.remove(owner, info)
    except Exception:  # e.g. a full disk: the marker lets the next start finish this
        log.warning("could not remove the older version of %s yet", name, exc_info=True)
        return IngestResult(name, "indexed", chunks, "", doc_id)
    folder = kb.folder(owner)
    recovery.marker(folder, doc_id, recovery.PENDING).unlink(missing_ok=True)
    recovery.forget(folder, name)
    return IngestResult(name, "replaced" if old else "indexed", chunks, "", doc_id)


def _discard(kb, owner: str, doc_id: str, files: list[Path], record: dict) -> None:
    """Remove what a failed ingestion stored (`files`: the original, then the marker).
    What cannot be removed now (on a full disk, say) is left to the next start's reconcile;
    the marker tells it the owner already knows, so it is not reported as interrupted."""
    try:
        try:
            kb.collection(owner).delete(where={"file_id": doc_id})
        finally:
            kb.changed(owner)
        for path in files:
            path.unlink(missing_ok=True)
    except Exception:
        log.warning("pieces of a failed upload remain until the next start", exc_info=True)
        with contextlib.suppress(OSError):
            atomic_write_json(files[-1], {**record, "failed": True})


def check_quota(settings, existing: list[DocumentInfo], old: list[DocumentInfo], size: int):
    """Per owner: number of documents and their total size (a new version of a file
    takes the place of the old one, so it counts once)."""
    most, limit_mb = settings.max_documents, settings.max_total_mb
    if len(existing) - len(old) + 1 > most:
        raise QuotaExceeded(
            f"You have reached the limit of {most} documents. Delete some to add more."
        )
    total = sum(d.bytes for d in existing) - sum(d.bytes for d in old) + size
    if total > limit_mb * MB:
        for digits in range(1, 7):  # 512.3 MB; never "500.0 MB, over the 500 MB limit"
            shown = f"{total / MB:.{digits}f}"
            if float(shown) > limit_mb:
                break
        raise QuotaExceeded(
            f"This file would take your documents to {shown} MB, over the "
            f"{limit_mb:g} MB limit. Delete some documents to add it."
        )


def check_chunks(settings, stored: int, old: list[DocumentInfo], chunks: int) -> None:
    """Chunks of one file, and of all the owner's documents (`stored` now; a new version
    of a file takes the place of the old one)."""
    most = settings.max_file_chunks
    if chunks > most:
        raise TooMuchText(
            f"The file splits into {chunks:,} chunks, more than the {most:,} one upload "
            "may have. Split it into smaller files and upload those."
        )
    limit = settings.max_chunks
    total = stored - sum(d.chunks for d in old) + chunks
    if total > limit:
        raise QuotaExceeded(
            f"This file would take your documents to {total:,} chunks, over the limit "
            f"of {limit:,}. Delete some documents to add it."
        )


def split(splitter, parsed: formats.Parsed, doc_id, name, digest, size, owner) -> list[BaseNode]:
    """The document's chunks, each carrying the document's registry fields."""
    from llama_index.core.ingestion import IngestionPipeline

    from webapp.knowledge.chunking import ChunkAnnotator

    base = {
        "file_id": doc_id,
        "file": name,
        "kind": parsed.kind,
        "sha256": digest,
        "bytes": size,
        "added": datetime.now(UTC).isoformat(timespec="seconds"),
        "owner": owner_key(owner),
    }
    if parsed.pages is not None:
        base["pages"] = parsed.pages
    for i, doc in enumerate(parsed.documents):
        doc.id_ = f"{doc_id}:{i}"
        doc.metadata = {**base, **doc.metadata}
        # Metadata is for citations, not for the embedder or the prompt; excluding it
        # here also keeps the splitter from shrinking chunks to make room for it.
        doc.excluded_embed_metadata_keys = list(CHUNK_METADATA_KEYS | doc.metadata.keys())
        doc.excluded_llm_metadata_keys = list(CHUNK_METADATA_KEYS | doc.metadata.keys())
    texts = {doc.id_: doc.text for doc in parsed.documents}
    pipeline = IngestionPipeline(transformations=[splitter, ChunkAnnotator()], disable_cache=True)
    return list(pipeline.run(documents=parsed.documents, source_texts=texts))


def embed_and_store(vector_store, embed_model, nodes: list[BaseNode], progress: Progress):
    """Embed, then store, STORE_BATCH chunks at a time, so the vectors of one batch are
    all that is held (a file's worth of them was 25k chunks x 384 floats as Python
    lists). Each document's first chunk is its registry entry, so the first chunks go in
    last: a document is listed only once every chunk of it is stored."""
    nodes = [n for n in nodes if n.metadata.get("chunk_index") != 0] + [
        n for n in nodes if n.metadata.get("chunk_index") == 0
    ]
    for start in range(0, len(nodes), STORE_BATCH):
        batch = nodes[start : start + STORE_BATCH]
        _embed(embed_model, batch, start, len(nodes), progress)
        vector_store.add(batch)
        for node in batch:
            node.embedding = None


def _embed(embed_model, nodes: list[BaseNode], done: int, total: int, progress: Progress):
    # Embedded shortest first: a batch is padded to its longest text, so chunks of like
    # length together waste less (a document's short last chunks no longer ride with full
    # ones): 8-12% more chunks/s on SciFact abstracts. Stored in the order given.
    by_length = sorted(nodes, key=lambda n: len(n.get_content()))
    for start in range(0, len(nodes), EMBED_BATCH):
        batch = by_length[start : start + EMBED_BATCH]
        vectors = embed_model.get_text_embedding_batch([n.get_content() for n in batch])
        for node, vector in zip(batch, vectors, strict=True):
            node.embedding = vector
        now = done + min(start + EMBED_BATCH, len(nodes))
        progress(0.1 + 0.85 * now / total, f"embedded {now}/{total} chunks")
