"""The knowledge base of each owner: one Chroma collection, documents made of chunks.

A short facade over the parts, each in its own module: `store` (the Chroma client, one
collection per owner, "the store is unreachable"), `documents` (what is stored: documents
and chunks, read from Chroma's metadata, the single source of truth), `ingest` (an upload
becomes chunks), `recovery` (markers of work under way and the start-up check) and
`chunking`/`formats`/`sandbox` (files into text into chunks). The facade owns what they
share: the per-owner locks, the revision counters derived indexes watch, and the owners'
folders of stored originals.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

from llama_index.vector_stores.chroma import ChromaVectorStore

from webapp import storage_lock
from webapp.files import atomic_write_json
from webapp.knowledge import documents, formats, ingest, recovery, store
from webapp.knowledge.chunking import BoundedSplitter, chunk_key
from webapp.knowledge.documents import Chunk, DocumentInfo
from webapp.knowledge.ingest import IngestResult, Progress
from webapp.knowledge.store import reachable
from webapp.owners import OwnerFolders

log = logging.getLogger(__name__)

__all__ = ["Chunk", "DocumentInfo", "IngestResult", "KnowledgeBase"]


def _quiet(fraction: float, what: str) -> None:
    return None


class KnowledgeBase:
    def __init__(self, chroma_client, embed_model, token_counter, storage_dir: Path, settings):
        self.client = chroma_client
        self.embed_model = embed_model
        self.settings = settings
        self.storage_dir = storage_dir
        self.shared = bool(getattr(settings, "chroma_url", ""))  # other replicas write too
        self.uploads_dir = storage_dir / "uploads"
        self.folder = OwnerFolders(self.uploads_dir)  # the owner's stored originals
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

    # -- what the parts share ---------------------------------------------------------------
    def collection(self, owner: str):
        return self.client.get_or_create_collection(
            store.collection_name(owner), configuration={"hnsw": {"space": "cosine"}}
        )

    def vector_store(self, owner: str) -> ChromaVectorStore:
        return ChromaVectorStore(chroma_collection=self.collection(owner))

    def lock(self, owner: str) -> threading.Lock:
        """The owner's lock: one change to their documents at a time."""
        with self._locks_guard:
            return self._locks.setdefault(owner, threading.Lock())

    def revision(self, owner: str) -> int:
        """Changes to the owner's documents made by this process (derived indexes use it).
        It moves when a change starts and again when it ends, so an index read from the
        store while a change was under way is known to be out of date."""
        return self._revisions.get(owner, 0)

    def changed(self, owner: str) -> None:
        self._revisions[owner] = self._revisions.get(owner, 0) + 1

    def sole_writer(self) -> bool:
        """Whether every change to the store goes through this object: an embedded Chroma
        whose storage folder this process holds the writer lock of. `revision` then sees
        every change, and derived indexes need not look at the store to find them."""
        return not self.shared and storage_lock.held(self.storage_dir)

    # -- queries ----------------------------------------------------------------------------
    @reachable
    def list_documents(self, owner: str) -> list[DocumentInfo]:
        # With a shared Chroma server, another replica may have deleted documents whose
        # originals this one keeps: the listing is when it notices (see _prune_originals).
        # Only the storage folder's writer prunes, and never while this owner's upload or
        # delete is under way here (the listing and the folder must be read together).
        lock = self.lock(owner)
        prune = self.shared and storage_lock.held(self.storage_dir) and lock.acquire(False)
        try:
            docs = documents.listed(self.collection(owner))
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
        folder = self.folder(owner)
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        busy = recovery.busy_ids(names)
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
        return documents.find(self.collection(owner), doc_id)

    @reachable
    def chunks(self, owner: str, doc_id: str) -> list[Chunk]:
        self.get_document(owner, doc_id)
        found = documents.chunk_rows(owner, self.collection(owner), {"file_id": doc_id})
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
        found = documents.chunk_rows(owner, collection, {"chunk_key": {"$in": keys}})
        have = {c.file_id for c in found}
        older = [
            {"$and": [{"file_id": doc_id}, {"chunk_index": {"$in": sorted(indexes)}}]}
            for doc_id, indexes in wanted.items()
            if indexes and doc_id not in have
        ]
        if older:
            where = older[0] if len(older) == 1 else {"$or": older}
            found += documents.chunk_rows(owner, collection, where)
        return found

    @reachable
    def count_chunks(self, owner: str) -> int:
        return self.collection(owner).count()

    def original_path(self, owner: str, doc_id: str) -> Path:
        return self.folder(owner) / self.get_document(owner, doc_id).original_name

    # -- changes ----------------------------------------------------------------------------
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
        return ingest.ingest(self, owner, path, name, progress or _quiet)

    def add_texts(
        self, owner: str, texts: list[tuple[str, str]], progress: Progress | None = None
    ) -> int:
        """Index (name, text) pairs as documents without files (benchmark corpora); returns
        the number of chunks. Unlike `ingest`, no dedup, no originals kept."""
        from llama_index.core import Document

        nodes = []
        with self.lock(owner):
            for name, text in texts:
                body = text.encode()
                parsed = formats.Parsed("text", [Document(text=text)], None)
                digest = hashlib.sha256(body).hexdigest()
                doc_id = uuid.uuid4().hex[:16]
                nodes += ingest.split(self.splitter, parsed, doc_id, name, digest, len(body), owner)
            self.changed(owner)
            self.embed_and_store(owner, nodes, progress or _quiet)
        return len(nodes)

    def embed_and_store(self, owner: str, nodes: list, progress: Progress) -> None:
        try:
            ingest.embed_and_store(self.vector_store(owner), self.embed_model, nodes, progress)
        finally:
            self.changed(owner)

    @reachable
    def delete(self, owner: str, doc_id: str) -> DocumentInfo:
        with self.lock(owner):
            info = self.get_document(owner, doc_id)
            self.remove(owner, info)
            return info

    def remove(self, owner: str, info: DocumentInfo) -> None:
        """Remove a document (the caller holds the owner's lock): registry entry first, so a
        delete cut short leaves no half document listed."""
        self.changed(owner)
        folder = self.folder(owner)
        marker = recovery.marker(folder, info.id, recovery.DELETING)
        try:
            atomic_write_json(marker, {"file": info.file})
        except OSError:  # a full disk must never stop a delete (it is how space is freed)
            log.warning("deleting %s without a marker", info.id, exc_info=True)
        collection = self.collection(owner)
        try:
            collection.delete(where=documents.registry_entry(info.id))
            collection.delete(where={"file_id": info.id})
        finally:
            self.changed(owner)
        (folder / info.original_name).unlink(missing_ok=True)
        # (an unfinished replace)
        recovery.marker(folder, info.id, recovery.PENDING).unlink(missing_ok=True)
        marker.unlink(missing_ok=True)

    @reachable
    def delete_all(self, owner: str) -> int:
        """Delete every document of the owner (its collection and stored originals)."""
        with self.lock(owner):
            count = len(self.list_documents(owner))
            self.changed(owner)
            name = store.collection_name(owner)
            try:
                if name in store.collection_names(self.client):
                    self.client.delete_collection(name)
            finally:
                self.changed(owner)
            shutil.rmtree(self.folder(owner), ignore_errors=True)
            return count

    # -- crash recovery ---------------------------------------------------------------------
    def interrupted(self, owner: str) -> list[dict]:
        """Uploads a crash cut short (id, file, when), newest first, until dismissed."""
        return recovery.interrupted(self.folder(owner))

    def dismiss_interrupted(self, owner: str, ids: Iterable[str] | None = None) -> None:
        """Forget the given interrupted uploads (all of them when `ids` is None)."""
        with self.lock(owner):
            recovery.dismiss(self.folder(owner), ids)

    def reconcile(self) -> dict[str, int]:
        """The start-up check (`recovery.reconcile`): only for the storage lock's holder."""
        return recovery.reconcile(self.client, self.uploads_dir, self.shared)
