"""The knowledge base of each owner: one Chroma collection, documents made of chunks.

Chroma is the single source of truth. Every chunk carries its document's id, file name,
content hash, size and date in its metadata, and the first chunk of a document (chunk_index
0) doubles as the document's registry entry, so the document list, dedup and delete need no
second store that could drift out of step, and any replica sharing the Chroma server sees
the same documents.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, TransformComponent
from llama_index.vector_stores.chroma import ChromaVectorStore

from webapp.errors import DocumentNotFound, FileTooLarge, IngestError
from webapp.knowledge import formats
from webapp.owners import owner_key

Progress = Callable[[float, str], None]
EMBED_BATCH = 64
CHUNK_METADATA_KEYS = {"chunk_index", "doc_chunks", "section"}


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
    start: int | None
    end: int | None


def safe_display_name(name: str) -> str:
    """The file name a user sees: no folders, no control characters, bounded length."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip() or "unnamed"
    if len(base) > 200:
        stem, ext = Path(base).stem, Path(base).suffix[:16]
        base = stem[: 200 - len(ext)] + ext
    return base


class ChunkAnnotator(TransformComponent):
    """Numbers the chunks of one document and records each chunk's section heading."""

    def __call__(self, nodes: list[BaseNode], **kwargs: Any) -> list[BaseNode]:
        texts = kwargs.get("source_texts", {})
        for i, node in enumerate(nodes):
            node.metadata["chunk_index"] = i
            node.metadata["doc_chunks"] = len(nodes)
            source = texts.get(node.ref_doc_id)
            if source is not None and node.start_char_idx is not None:
                section = formats.section_at(source, node.start_char_idx)
                if section:
                    node.metadata["section"] = section[:200]
        return nodes


class KnowledgeBase:
    def __init__(self, chroma_client, embed_model, token_counter, storage_dir: Path, settings):
        self.client = chroma_client
        self.embed_model = embed_model
        self.settings = settings
        self.uploads_dir = storage_dir / "uploads"
        self.splitter = SentenceSplitter(
            chunk_size=settings.chunk_size,
            chunk_overlap=min(settings.chunk_overlap, settings.chunk_size // 2),
            tokenizer=token_counter,
        )
        self._locks: dict[str, threading.Lock] = {}
        self._revisions: dict[str, int] = {}  # per owner: bumped by every change here
        self._locks_guard = threading.Lock()

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
        """Changes to the owner's documents made by this process (derived indexes use it)."""
        return self._revisions.get(owner, 0)

    def _changed(self, owner: str) -> None:
        self._revisions[owner] = self._revisions.get(owner, 0) + 1

    def _owner_dir(self, owner: str) -> Path:
        return self.uploads_dir / owner_key(owner)

    # -- queries ------------------------------------------------------------------------
    def list_documents(self, owner: str) -> list[DocumentInfo]:
        got = self.collection(owner).get(where={"chunk_index": 0}, include=["metadatas"])
        docs = [_doc_info(m) for m in got["metadatas"] or []]
        return sorted(docs, key=lambda d: (d.added, d.file), reverse=True)

    def get_document(self, owner: str, doc_id: str) -> DocumentInfo:
        got = self.collection(owner).get(
            where={"$and": [{"file_id": doc_id}, {"chunk_index": 0}]}, include=["metadatas"]
        )
        if not got["metadatas"]:
            raise DocumentNotFound("That document does not exist (it may have been deleted).")
        return _doc_info(got["metadatas"][0])

    def chunks(self, owner: str, doc_id: str) -> list[Chunk]:
        self.get_document(owner, doc_id)
        got = self.collection(owner).get(
            where={"file_id": doc_id}, include=["documents", "metadatas"]
        )
        out = []
        for text, meta in zip(got["documents"], got["metadatas"], strict=True):
            start, end = _offsets(meta)
            out.append(
                Chunk(meta["chunk_index"], text, meta.get("page"), meta.get("section"), start, end)
            )
        return sorted(out, key=lambda c: c.index)

    def count_chunks(self, owner: str) -> int:
        return self.collection(owner).count()

    def original_path(self, owner: str, doc_id: str) -> Path:
        info = self.get_document(owner, doc_id)
        return self._owner_dir(owner) / f"{info.id}{Path(info.file).suffix.lower()}"

    # -- changes ------------------------------------------------------------------------
    def delete(self, owner: str, doc_id: str) -> DocumentInfo:
        with self._lock(owner):
            info = self.get_document(owner, doc_id)
            self._remove(owner, info)
            return info

    def _remove(self, owner: str, info: DocumentInfo) -> None:
        self._changed(owner)
        self.collection(owner).delete(where={"file_id": info.id})
        (self._owner_dir(owner) / f"{info.id}{Path(info.file).suffix.lower()}").unlink(
            missing_ok=True
        )

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
        except IngestError as exc:
            return IngestResult(display, "failed", message=str(exc))

    def _ingest(self, owner: str, path: Path, name: str, progress: Progress) -> IngestResult:
        size = path.stat().st_size
        limit = self.settings.max_upload_mb
        if size > limit * 1024 * 1024:
            raise FileTooLarge(f"The file is {size / 1e6:.1f} MB; the limit is {limit:g} MB.")
        kind = formats.detect_kind(path, name)
        digest = _sha256(path)
        existing = self.list_documents(owner)
        same = next((d for d in existing if d.sha256 == digest), None)
        if same is not None:
            note = "already indexed" if same.file == name else f"same content as '{same.file}'"
            return IngestResult(name, "unchanged", same.chunks, note, same.id)
        progress(0.05, "reading")
        parsed = formats.parse(path, kind)
        doc_id = uuid.uuid4().hex[:16]
        nodes = self._split(parsed, doc_id, name, digest, size, owner)
        stored = self._owner_dir(owner) / f"{doc_id}{Path(name).suffix.lower()}"
        try:
            _atomic_copy(path, stored)
            self._changed(owner)
            self._embed_and_store(owner, nodes, progress)
        except BaseException:
            self.collection(owner).delete(where={"file_id": doc_id})
            stored.unlink(missing_ok=True)
            raise
        old = [d for d in existing if d.file == name]
        for info in old:  # a new version replaces the old only once it is fully stored
            self._remove(owner, info)
        return IngestResult(name, "replaced" if old else "indexed", len(nodes), "", doc_id)

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
        store = self.vector_store(owner)
        for start in range(0, len(nodes), EMBED_BATCH):
            batch = nodes[start : start + EMBED_BATCH]
            vectors = self.embed_model.get_text_embedding_batch([n.get_content() for n in batch])
            for node, vector in zip(batch, vectors, strict=True):
                node.embedding = vector
            done = min(start + EMBED_BATCH, len(nodes))
            progress(0.1 + 0.85 * done / len(nodes), f"embedded {done}/{len(nodes)} chunks")
        for start in range(0, len(nodes), 1000):
            store.add(nodes[start : start + 1000])


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


def _atomic_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)
