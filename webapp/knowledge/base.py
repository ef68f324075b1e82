"""The knowledge base of each owner: one Chroma collection, documents made of chunks.

Chroma is the single source of truth. Every chunk carries its document's id, file name,
content hash, size and date in its metadata, and the first chunk of a document (chunk_index
0) doubles as the document's registry entry, so the document list, dedup and delete need no
second store that could drift out of step, and any replica sharing the Chroma server sees
the same documents.

Crash safety: the registry entry (chunk 0) is stored last and removed first, so a document is
listed only while all its chunks are in Chroma. A small marker file next to the originals
(`.<doc id>.pending.json`, `.<doc id>.deleting.json`) says what was under way; `reconcile`,
run at start-up by the process holding the storage lock, removes the pieces of anything cut
short and records interrupted uploads so that the owner is told. It never removes a complete
document, except the older version of a replacement whose new version is complete.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from chromadb.errors import AuthorizationError, ChromaAuthError
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode
from llama_index.vector_stores.chroma import ChromaVectorStore

from webapp import storage_lock
from webapp.errors import (
    DiskFull,
    DocumentNotFound,
    FileTooLarge,
    IngestError,
    QuotaExceeded,
    StoreUnavailable,
    TooMuchText,
)
from webapp.knowledge import formats, sandbox
from webapp.knowledge.chunking import SOURCE_CHARS, BoundedSplitter, ChunkAnnotator, chunk_key
from webapp.owners import owner_key

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
EMBED_BATCH = 64
STORE_BATCH = 1024  # chunks embedded and stored together (bounds the vectors held)
CHUNK_METADATA_KEYS = {"chunk_index", "doc_chunks", "section", "chunk_key"}
MB = 1024 * 1024
PENDING, DELETING = "pending", "deleting"  # marker kinds: an upload, a delete under way
INTERRUPTED_FILE = ".interrupted.json"  # per owner: uploads a crash cut short, until dismissed
DISK_FULL = "The server's disk is full, so this file was not stored. Nothing else was changed."
INTERRUPTED = "{file}: indexing was interrupted (the server stopped); upload it again"


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


UNREACHABLE = (
    "The document store is not reachable right now, so nothing was changed. Try again in a moment."
)
REFUSED = (
    "The document store refused this app's credentials, so nothing was changed "
    "(check WEBAPP_CHROMA_TOKEN and WEBAPP_CHROMA_AUTH_HEADER)."
)


def store_failure(exc: BaseException) -> str | None:
    """The plain message for a Chroma server that is down or refuses the token; None for
    any other error."""
    if isinstance(exc, httpx.TransportError):
        return UNREACHABLE
    if isinstance(exc, ChromaAuthError | AuthorizationError):  # Chroma's token auth: 403
        return REFUSED
    return None


def reachable(method):
    """A Chroma server that is down (or refuses the token) becomes a plain message
    (StoreUnavailable), not a traceback; the next call tries again, so service resumes
    once it is back."""

    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            message = store_failure(exc)
            if message is None:
                raise
            raise StoreUnavailable(message) from exc

    return call


class KnowledgeBase:
    def __init__(self, chroma_client, embed_model, token_counter, storage_dir: Path, settings):
        self.client = chroma_client
        self.embed_model = embed_model
        self.settings = settings
        self.storage_dir = storage_dir
        self.shared = bool(getattr(settings, "chroma_url", ""))  # other replicas write too
        self.uploads_dir = storage_dir / "uploads"
        self.token_counter = token_counter  # the tokens chunk sizes are measured in
        self.chunk_overlap = min(settings.chunk_overlap, settings.chunk_size // 2)
        self.splitter = BoundedSplitter(
            chunk_size=settings.chunk_size,
            chunk_overlap=self.chunk_overlap,
            tokenizer=token_counter,
        )
        self._locks: dict[str, threading.Lock] = {}
        self._revisions: dict[str, int] = {}  # per owner: bumped by every change here
        self._locks_guard = threading.Lock()
        if storage_lock.held(storage_dir):  # the only writer: tidy what a crash left behind
            try:
                self.reconcile()
            except Exception:  # the store must still open (a full disk, say)
                log.exception("the start-up check of the knowledge base failed")

    # -- stores -------------------------------------------------------------------------
    def collection(self, owner: str):
        return self.client.get_or_create_collection(
            f"kb_{owner_key(owner)}", configuration={"hnsw": {"space": "cosine"}}
        )

    def vector_store(self, owner: str) -> ChromaVectorStore:
        return ChromaVectorStore(chroma_collection=self.collection(owner))

    def _lock(self, owner: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(owner, threading.Lock())

    def revision(self, owner: str) -> int:
        """Changes to the owner's documents made by this process (derived indexes use it).
        It moves when a change starts and again when it ends, so an index read from the
        store while a change was under way is known to be out of date."""
        return self._revisions.get(owner, 0)

    def sole_writer(self) -> bool:
        """Whether every change to the store goes through this object: an embedded Chroma
        whose storage folder this process holds the writer lock of. `revision` then sees
        every change, and derived indexes need not look at the store to find them."""
        return not self.shared and storage_lock.held(self.storage_dir)

    def _changed(self, owner: str) -> None:
        self._revisions[owner] = self._revisions.get(owner, 0) + 1

    def _owner_dir(self, owner: str) -> Path:
        return self.uploads_dir / owner_key(owner)

    def _marker(self, owner: str, doc_id: str, kind: str) -> Path:
        return self._owner_dir(owner) / f".{doc_id}.{kind}.json"

    # -- queries ------------------------------------------------------------------------
    @reachable
    def list_documents(self, owner: str) -> list[DocumentInfo]:
        # With a shared Chroma server, another replica may have deleted documents whose
        # originals this one keeps: the listing is when it notices (see _prune_originals).
        # Only the storage folder's writer prunes, and never while this owner's upload or
        # delete is under way here (the listing and the folder must be read together).
        lock = self._lock(owner)
        prune = self.shared and storage_lock.held(self.storage_dir) and lock.acquire(False)
        try:
            got = get_all(self.collection(owner), ["metadatas"], where={"chunk_index": 0})
            docs = [_doc_info(m) for m in got["metadatas"]]
            if prune:
                self._prune_originals(owner, {d.id for d in docs})
        finally:
            if prune:
                lock.release()
        return sorted(docs, key=lambda d: (d.added, d.file), reverse=True)

    def _prune_originals(self, owner: str, listed: set[str]) -> None:
        """Remove the stored originals of documents that are no longer in Chroma: deleted
        through another replica. An upload or delete of this process has a marker, and one
        of a crashed process is left to the start-up check."""
        folder = self._owner_dir(owner)
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        busy = {n.split(".")[1] for n in names if n.startswith(".") and n.count(".") == 3}
        for name in names:
            doc_id = name.split(".")[0]
            if name.startswith(".") or doc_id in listed or doc_id in busy:
                continue
            try:
                (folder / name).unlink(missing_ok=True)
            except OSError:
                log.warning("could not remove the original of deleted document %s", doc_id)

    @reachable
    def get_document(self, owner: str, doc_id: str) -> DocumentInfo:
        got = self.collection(owner).get(
            where={"$and": [{"file_id": doc_id}, {"chunk_index": 0}]}, include=["metadatas"]
        )
        if not got["metadatas"]:
            raise DocumentNotFound("That document does not exist (it may have been deleted).")
        return _doc_info(got["metadatas"][0])

    @reachable
    def chunks(self, owner: str, doc_id: str) -> list[Chunk]:
        self.get_document(owner, doc_id)
        found = self._chunk_rows(owner, self.collection(owner), {"file_id": doc_id})
        return sorted(found, key=lambda c: c.index)

    @reachable
    def neighbours(self, owner: str, wanted: dict[str, set[int]]) -> list[Chunk]:
        """The chunks `wanted` ({document id: chunk indexes}) for the text around retrieved
        chunks (small-to-big: retrieval.window), in one read by their chunk keys. Documents
        stored before chunks had keys are read a second time, by file id and chunk index.
        Only the owner's own collection is read, and a row of another owner is dropped."""
        collection = self.collection(owner)
        keys = [chunk_key(doc_id, i) for doc_id, indexes in wanted.items() for i in indexes]
        if not keys:
            return []
        found = self._chunk_rows(owner, collection, {"chunk_key": {"$in": keys}})
        have = {c.file_id for c in found}
        older = [
            {"$and": [{"file_id": doc_id}, {"chunk_index": {"$in": sorted(indexes)}}]}
            for doc_id, indexes in wanted.items()
            if indexes and doc_id not in have
        ]
        if older:
            where = older[0] if len(older) == 1 else {"$or": older}
            found += self._chunk_rows(owner, collection, where)
        return found

    @staticmethod
    def _chunk_rows(owner: str, collection, where: dict) -> list[Chunk]:
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

    @reachable
    def count_chunks(self, owner: str) -> int:
        return self.collection(owner).count()

    @reachable
    def delete_all(self, owner: str) -> int:
        """Delete every document of the owner (its collection and stored originals)."""
        with self._lock(owner):
            count = len(self.list_documents(owner))
            self._changed(owner)
            name = f"kb_{owner_key(owner)}"
            try:
                if name in {
                    c if isinstance(c, str) else c.name for c in self.client.list_collections()
                }:
                    self.client.delete_collection(name)
            finally:
                self._changed(owner)
            shutil.rmtree(self._owner_dir(owner), ignore_errors=True)
            return count

    def original_path(self, owner: str, doc_id: str) -> Path:
        info = self.get_document(owner, doc_id)
        return self._owner_dir(owner) / f"{info.id}{Path(info.file).suffix.lower()}"

    # -- changes ------------------------------------------------------------------------
    @reachable
    def delete(self, owner: str, doc_id: str) -> DocumentInfo:
        with self._lock(owner):
            info = self.get_document(owner, doc_id)
            self._remove(owner, info)
            return info

    def _remove(self, owner: str, info: DocumentInfo) -> None:
        self._changed(owner)
        marker = self._marker(owner, info.id, DELETING)
        try:
            _write_json(marker, {"file": info.file})
        except OSError:  # a full disk must never stop a delete (it is how space is freed)
            log.warning("deleting %s without a marker", info.id, exc_info=True)
        collection = self.collection(owner)
        # The registry entry goes first, so a delete cut short leaves no half document listed.
        try:
            collection.delete(where={"$and": [{"file_id": info.id}, {"chunk_index": 0}]})
            collection.delete(where={"file_id": info.id})
        finally:
            self._changed(owner)
        (self._owner_dir(owner) / f"{info.id}{Path(info.file).suffix.lower()}").unlink(
            missing_ok=True
        )
        self._marker(owner, info.id, PENDING).unlink(missing_ok=True)  # (an unfinished replace)
        marker.unlink(missing_ok=True)

    def ingest_files(
        self, owner: str, files: Iterable[tuple[Path, str]], progress: Progress | None = None
    ) -> list[IngestResult]:
        """Index each (path, original name); one bad file never stops the others."""
        files = list(files)
        results = []
        for i, (path, name) in enumerate(files):

            def step(fraction: float, what: str, i=i, name=name) -> None:
                if progress:
                    progress((i + fraction) / len(files), f"{name}: {what}")

            results.append(self.ingest(owner, Path(path), name, step))
        if progress:
            progress(1.0, "done")
        return results

    def ingest(
        self, owner: str, path: Path, name: str, progress: Progress | None = None
    ) -> IngestResult:
        display = safe_display_name(name)
        try:
            with self._lock(owner):
                return self._ingest(owner, path, display, progress or (lambda f, w: None))
        except (IngestError, StoreUnavailable) as exc:
            return IngestResult(display, "failed", message=str(exc))
        except Exception as exc:
            if message := store_failure(exc):
                log.warning("the Chroma server failed a request", exc_info=True)
                return IngestResult(display, "failed", message=message)
            if not _is_disk_full(exc):
                raise
            log.warning("disk full while storing an upload", exc_info=True)
            return IngestResult(display, "failed", message=DISK_FULL)

    def _ingest(self, owner: str, path: Path, name: str, progress: Progress) -> IngestResult:
        size = path.stat().st_size
        limit = self.settings.max_upload_mb
        if size > limit * 1024 * 1024:
            raise FileTooLarge(f"The file is {size / 2**20:.1f} MB; the limit is {limit:g} MB.")
        kind = formats.detect_kind(path, name)
        digest = _sha256(path)
        existing = self.list_documents(owner)
        same = next((d for d in existing if d.sha256 == digest), None)
        if same is not None:
            note = "already indexed" if same.file == name else f"same content as '{same.file}'"
            return IngestResult(name, "unchanged", same.chunks, note, same.id)
        old = [d for d in existing if d.file == name]
        self._check_quota(existing, old, size)
        progress(0.05, "reading")
        parsed = sandbox.parse(
            path,
            kind,
            timeout_s=self.settings.parse_timeout_s,
            memory_mb=self.settings.parse_memory_mb,
            max_chars=int(self.settings.max_text_mb * MB),
        )
        progress(0.08, "splitting")
        doc_id = uuid.uuid4().hex[:16]
        nodes = self._split(parsed, doc_id, name, digest, size, owner)
        del parsed  # the text lives on in the chunks
        self._check_chunks(owner, old, len(nodes))
        stored = self._owner_dir(owner) / f"{doc_id}{Path(name).suffix.lower()}"
        pending = self._marker(owner, doc_id, PENDING)
        record = {"file": name, "started": _now(), "replaces": [d.id for d in old]}
        try:
            # The marker comes first and goes last: after a crash, reconcile knows which
            # upload was cut short (and which older version it was replacing).
            _write_json(pending, record)
            _atomic_copy(path, stored)
            self._changed(owner)
            self._embed_and_store(owner, nodes, progress)  # the registry entry goes in last
        except BaseException as exc:
            full = _is_disk_full(exc)
            if full:
                log.warning("disk full while storing an upload", exc_info=True)
                self._reopen_chroma()
            self._discard(owner, doc_id, stored, pending, record)
            if full:
                raise DiskFull(DISK_FULL) from exc
            raise
        try:
            for info in old:  # a new version replaces the old only once it is fully stored
                self._remove(owner, info)
        except Exception:  # e.g. a full disk: the marker lets the next start finish this
            log.warning("could not remove the older version of %s yet", name, exc_info=True)
            return IngestResult(name, "indexed", len(nodes), "", doc_id)
        pending.unlink(missing_ok=True)
        self._forget_interrupted(owner, name)
        return IngestResult(name, "replaced" if old else "indexed", len(nodes), "", doc_id)

    def _check_quota(self, existing: list[DocumentInfo], old: list[DocumentInfo], size: int):
        """Per owner: number of documents and their total size (a new version of a file
        takes the place of the old one, so it counts once)."""
        most, limit_mb = self.settings.max_documents, self.settings.max_total_mb
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

    def _check_chunks(self, owner: str, old: list[DocumentInfo], chunks: int) -> None:
        """Chunks of one file, and of all the owner's documents (a new version of a file
        takes the place of the old one)."""
        most = self.settings.max_file_chunks
        if chunks > most:
            raise TooMuchText(
                f"The file splits into {chunks:,} chunks, more than the {most:,} one upload "
                "may have. Split it into smaller files and upload those."
            )
        limit = self.settings.max_chunks
        total = self.count_chunks(owner) - sum(d.chunks for d in old) + chunks
        if total > limit:
            raise QuotaExceeded(
                f"This file would take your documents to {total:,} chunks, over the limit "
                f"of {limit:,}. Delete some documents to add it."
            )

    def _reopen_chroma(self) -> None:
        """Embedded Chroma (1.5) can be left stuck by a write that failed for lack of space:
        seconds later its next write hangs for good. Fresh bindings on the same files clear
        that; they replace the old in place, so every collection object keeps working."""
        server = getattr(self.client, "_server", None)
        if server is None or not hasattr(server, "bindings"):  # a Chroma server: not ours
            return
        try:
            server.start()  # builds new bindings; the old go once no call is using them
        except Exception:
            log.exception("could not reopen Chroma after a full disk")

    def _discard(self, owner: str, doc_id: str, stored: Path, pending: Path, record: dict):
        """Remove what a failed ingestion stored. What cannot be removed now (on a full disk,
        say) is left to the next start's reconcile; the marker tells it the owner already
        knows, so it is not reported as interrupted."""
        try:
            try:
                self.collection(owner).delete(where={"file_id": doc_id})
            finally:
                self._changed(owner)
            stored.unlink(missing_ok=True)
            pending.unlink(missing_ok=True)
        except Exception:
            log.warning("pieces of a failed upload remain until the next start", exc_info=True)
            with contextlib.suppress(OSError):
                _write_json(pending, {**record, "failed": True})

    def add_texts(
        self, owner: str, texts: list[tuple[str, str]], progress: Progress | None = None
    ) -> int:
        """Index (name, text) pairs as documents without files (benchmark corpora); returns
        the number of chunks. Unlike `ingest`, no dedup, no originals kept."""
        from llama_index.core import Document

        nodes: list[BaseNode] = []
        with self._lock(owner):
            for name, text in texts:
                body = text.encode()
                parsed = formats.Parsed("text", [Document(text=text)], None)
                digest = hashlib.sha256(body).hexdigest()
                doc_id = uuid.uuid4().hex[:16]
                nodes += self._split(parsed, doc_id, name, digest, len(body), owner)
            self._changed(owner)
            self._embed_and_store(owner, nodes, progress or (lambda f, w: None))
        return len(nodes)

    def _split(self, parsed: formats.Parsed, doc_id, name, digest, size, owner) -> list[BaseNode]:
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
        pipeline = IngestionPipeline(
            transformations=[self.splitter, ChunkAnnotator()], disable_cache=True
        )
        return pipeline.run(documents=parsed.documents, source_texts=texts)

    def _embed_and_store(self, owner: str, nodes: list[BaseNode], progress: Progress) -> None:
        """Embed, then store, STORE_BATCH chunks at a time, so the vectors of one batch are
        all that is held (a file's worth of them was 25k chunks x 384 floats as Python
        lists). Each document's first chunk is its registry entry, so the first chunks go in
        last: a document is listed only once every chunk of it is stored."""
        store = self.vector_store(owner)
        nodes = [n for n in nodes if n.metadata.get("chunk_index") != 0] + [
            n for n in nodes if n.metadata.get("chunk_index") == 0
        ]
        try:
            for start in range(0, len(nodes), STORE_BATCH):
                batch = nodes[start : start + STORE_BATCH]
                self._embed(batch, start, len(nodes), progress)
                store.add(batch)
                for node in batch:
                    node.embedding = None
        finally:
            self._changed(owner)

    def _embed(self, nodes: list[BaseNode], done: int, total: int, progress: Progress) -> None:
        # Embedded shortest first: a batch is padded to its longest text, so chunks of like
        # length together waste less (a document's short last chunks no longer ride with full
        # ones): 8-12% more chunks/s on SciFact abstracts. Stored in the order given.
        by_length = sorted(nodes, key=lambda n: len(n.get_content()))
        for start in range(0, len(nodes), EMBED_BATCH):
            batch = by_length[start : start + EMBED_BATCH]
            vectors = self.embed_model.get_text_embedding_batch([n.get_content() for n in batch])
            for node, vector in zip(batch, vectors, strict=True):
                node.embedding = vector
            now = done + min(start + EMBED_BATCH, len(nodes))
            progress(0.1 + 0.85 * now / total, f"embedded {now}/{total} chunks")

    # -- crash recovery -----------------------------------------------------------------
    def interrupted(self, owner: str) -> list[dict]:
        """Uploads a crash cut short (id, file, when), newest first, until dismissed."""
        return sorted(
            _read_json(self._owner_dir(owner) / INTERRUPTED_FILE, []),
            key=lambda r: r.get("when", ""),
            reverse=True,
        )

    def dismiss_interrupted(self, owner: str, ids: Iterable[str] | None = None) -> None:
        """Forget the given interrupted uploads (all of them when `ids` is None)."""
        with self._lock(owner):
            path = self._owner_dir(owner) / INTERRUPTED_FILE
            gone = None if ids is None else set(ids)
            keep = [r for r in self.interrupted(owner) if gone is not None and r["id"] not in gone]
            _write_or_remove(path, keep)

    def _forget_interrupted(self, owner: str, name: str) -> None:
        """A file indexed again under the same name needs no "upload it again" notice."""
        records = self.interrupted(owner)
        if any(r.get("file") == name for r in records):
            keep = [r for r in records if r.get("file") != name]
            try:
                _write_or_remove(self._owner_dir(owner) / INTERRUPTED_FILE, keep)
            except OSError:
                log.warning("could not update the interrupted uploads", exc_info=True)

    def reconcile(self) -> dict[str, int]:
        """Make Chroma, the stored originals and the markers agree after a crash; returns
        counts of what was done. Only for the process holding the storage lock, before it
        serves anyone: an ingestion under way elsewhere would look interrupted."""
        keys = {
            name[3:]
            for name in self._collection_names()
            if name.startswith("kb_") and len(name) > 3
        }
        if self.uploads_dir.is_dir():
            keys |= {p.name for p in self.uploads_dir.iterdir() if p.is_dir()}
        totals = {"interrupted": 0, "removed_chunks": 0, "removed_originals": 0, "replaced": 0}
        for key in sorted(keys):
            for what, n in self._reconcile_owner(key).items():
                totals[what] += n
        if any(totals.values()):
            log.warning("start-up check of the knowledge base: %s", totals)
        return totals

    def _collection_names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self.client.list_collections()]

    def _reconcile_owner(self, key: str) -> dict[str, int]:
        folder = self.uploads_dir / key
        name = f"kb_{key}"
        collection = self.client.get_collection(name) if name in self._collection_names() else None
        # file id -> (chunk indexes present, the metadata of one chunk)
        found: dict[str, tuple[set[int], dict]] = {}
        if collection is not None:
            for meta in get_all(collection, ["metadatas"])["metadatas"]:
                fid = meta.get("file_id")
                if fid:
                    found.setdefault(fid, (set(), meta))[0].add(int(meta.get("chunk_index", -1)))
        complete = {fid for fid, (indexes, _) in found.items() if 0 in indexes}
        for fid in complete:
            indexes, meta = found[fid]
            if len(indexes) != int(meta.get("doc_chunks", len(indexes))):
                log.warning("document %s has %d of its chunks; kept as it is", fid, len(indexes))
        markers: dict[str, dict[str, dict]] = {PENDING: {}, DELETING: {}}
        originals: dict[str, Path] = {}
        leftovers: list[Path] = []
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if not path.is_file():
                continue
            parts = path.name.split(".")
            if len(parts) == 4 and parts[0] == "" and parts[2] in markers and parts[3] == "json":
                markers[parts[2]][parts[1]] = {**_read_json(path, {}), "_path": path}
            elif path.name.endswith(".tmp"):
                leftovers.append(path)  # a copy cut short
            elif not path.name.startswith("."):
                originals.setdefault(path.name.split(".")[0], path)
        done = {"interrupted": 0, "removed_chunks": 0, "removed_originals": 0, "replaced": 0}
        # A replacement cut short after its new version was complete: finish it.
        older: set[str] = set()
        for doc_id, record in markers[PENDING].items():
            if doc_id in complete and not record.get("failed"):
                older |= {o for o in record.get("replaces", []) if o in complete and o != doc_id}
        # Everything that is not a complete document is a piece of something cut short. With
        # a shared Chroma server, pieces without a marker here may be another replica's
        # upload under way: only this replica's own uploads are judged, and an original of
        # its own without a marker is a document deleted through another replica.
        mine = set(originals) | set(markers[PENDING])
        broken = (mine if self.shared else set(found) | mine) - complete
        reports = []
        for doc_id in sorted(broken):
            pending = markers[PENDING].get(doc_id)
            if doc_id in markers[DELETING] or (pending and pending.get("failed")):
                continue  # a delete the owner asked for, or a failure they were told of
            if self.shared and not pending:
                continue  # an original alone: its document was deleted through a replica
            file = (pending or {}).get("file") or found.get(doc_id, (None, {}))[1].get("file")
            if not file:  # an original alone, from before markers existed: name unknown
                suffix = originals[doc_id].suffix[1:] if doc_id in originals else ""
                file = f"a {suffix.upper()} file" if suffix else "a file"
            when = (pending or {}).get("started") or found.get(doc_id, (None, {}))[1].get("added")
            reports.append({"id": doc_id, "file": file, "when": when or _now()})
        if reports:  # recorded before anything is removed, so a second crash loses no report
            path = folder / INTERRUPTED_FILE
            records = _read_json(path, [])
            known = {r.get("id") for r in records}
            _write_or_remove(path, records + [r for r in reports if r["id"] not in known])
            done["interrupted"] = len(reports)
        for doc_id in sorted(broken | older):
            if collection is not None and doc_id in found:
                # registry entry first (an older version is complete), then the rest
                collection.delete(where={"$and": [{"file_id": doc_id}, {"chunk_index": 0}]})
                collection.delete(where={"file_id": doc_id})
                done["removed_chunks"] += len(found[doc_id][0])
            if doc_id in originals:
                originals[doc_id].unlink(missing_ok=True)
                done["removed_originals"] += 1
        done["replaced"] = len(older)
        for kind in markers.values():
            for record in kind.values():
                record["_path"].unlink(missing_ok=True)
        for path in leftovers:
            path.unlink(missing_ok=True)
        return done


def _doc_info(meta: dict) -> DocumentInfo:
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
    import json

    content = json.loads(meta.get("_node_content", "{}"))
    return content.get("start_char_idx"), content.get("end_char_idx")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


PAGE = 5000  # rows per Chroma read: SQLite refuses more than 32,766 variables in one query


def get_all(collection, include: list[str], where: dict | None = None) -> dict:
    """`collection.get` of every matching row, read in pages (one unpaged read of a
    collection past ~32k chunks fails inside Chroma's SQLite)."""
    out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
    offset, page = 0, PAGE
    while True:
        got = collection.get(where=where, include=include, limit=page, offset=offset)
        for key in out:
            out[key] += list(got[key] or [])
        if len(got["ids"]) < page:
            return out
        offset += page


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_disk_full(exc: BaseException) -> bool:
    """An OSError ENOSPC/EDQUOT anywhere in the chain, or SQLite's (Chroma's) "disk is full"."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if "disk is full" in text or "no space left on device" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _write_json(path: Path, value) -> None:
    """Atomic: readers (and a restart after kill -9) see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_or_remove(path: Path, records: list) -> None:
    if records:
        _write_json(path, records)
    else:
        path.unlink(missing_ok=True)


def _atomic_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no partial copy behind
        raise
