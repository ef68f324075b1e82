"""Ingestion end to end: ours (KnowledgeBase.add_texts / ingest on a throwaway storage)
against the LlamaIndex starter pipeline, same texts, same files, same embedder model.

The starter: `VectorStoreIndex.from_documents` with `HuggingFaceEmbedding(model_name=...)`
defaults into a Chroma collection (its default SentenceSplitter: 1,024-token chunks, 200
overlap); PDFs read by `SimpleDirectoryReader` (its PDFReader, one document per page). Both
sides use models already loaded (model loading is not timed), each repeat a fresh store.

Our chunks are smaller (200 embedder tokens, as configured) so we make more of them from the
same text; documents per second (or pages per second) is the figure that does not depend on
chunk size, and is reported beside chunks per second.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from webapp.bench import common
from webapp.bench.runner import Figure


def _starter_index(documents, embed_model) -> int:
    """The starter pipeline into a fresh Chroma folder; returns the chunks it stored."""
    import chromadb
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    with tempfile.TemporaryDirectory(prefix="webapp-bench-starter-") as tmp:
        client = chromadb.PersistentClient(
            path=tmp, settings=chromadb.Settings(anonymized_telemetry=False)
        )
        collection = client.get_or_create_collection("quickstart")
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        )
        VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model)
        return collection.count()


def ours_texts(services, texts: list[tuple[str, str]]) -> tuple[float, int]:
    with common.throwaway(services) as scratch:
        knowledge = scratch.knowledge
        start = time.perf_counter()
        chunks = knowledge.add_texts(common.OWNER, texts)
        return time.perf_counter() - start, chunks


def starter_texts(services, texts: list[tuple[str, str]]) -> tuple[float, int]:
    from llama_index.core import Document

    embed_model = common.baseline_embedder(services)
    start = time.perf_counter()
    documents = [Document(text=text) for _, text in texts]
    chunks = _starter_index(documents, embed_model)
    return time.perf_counter() - start, chunks


def ours_files(services, files: list[Path]) -> tuple[float, int, int]:
    """Seconds, pages and chunks for our upload path (sandboxed parsing included)."""
    with common.throwaway(services) as scratch:
        knowledge = scratch.knowledge
        start = time.perf_counter()
        results = [knowledge.ingest(common.OWNER, path, path.name) for path in files]
        seconds = time.perf_counter() - start
        failed = [r for r in results if not r.ok]
        if failed:
            raise RuntimeError(f"ingesting {failed[0].file} failed: {failed[0].message}")
        pages = sum(d.pages or 0 for d in knowledge.list_documents(common.OWNER))
        return seconds, pages, sum(r.chunks for r in results)


def starter_files(services, files: list[Path]) -> tuple[float, int, int]:
    from llama_index.core import SimpleDirectoryReader

    embed_model = common.baseline_embedder(services)
    start = time.perf_counter()
    documents = SimpleDirectoryReader(input_files=[str(p) for p in files]).load_data()
    chunks = _starter_index(documents, embed_model)
    return time.perf_counter() - start, len(documents), chunks


def text_figures(services, quick: bool) -> list[Figure]:
    texts, what = common.corpus(100 if quick else 500)
    repeats = 1 if quick else 3
    # Warm-up (untimed, tiny): first-call costs (Chroma's start, tokenizer caches) on both.
    ours_texts(services, texts[:5])
    starter_texts(services, texts[:5])
    ours, base = [], []
    for _ in range(repeats):
        ours.append(ours_texts(services, texts))
        base.append(starter_texts(services, texts))
    ours_s = common.median([s for s, _ in ours])
    base_s = common.median([s for s, _ in base])
    ours_chunks, base_chunks = ours[0][1], base[0][1]
    note = (
        f"{what} (a fixed subset: all 5,183 took ~13 min ours on this machine), end to end "
        f"(split, embed, store); ours {ours_chunks} chunks of <=200 tokens in {ours_s:.1f} s, "
        f"starter {base_chunks} chunks of <=1024 tokens (the embedder reads only the first "
        f"256) in {base_s:.1f} s; median of {repeats}"
    )
    n = len(texts)
    return [
        Figure(
            "ingest_chunks_per_s",
            "chunks/s",
            round(ours_chunks / ours_s, 1),
            round(base_chunks / base_s, 1),
            note,
        ),
        Figure(
            "ingest_docs_per_s",
            "documents/s",
            round(n / ours_s, 2),
            round(n / base_s, 2),
            f"the same runs as ingest_chunks_per_s, per abstract ({n})",
        ),
    ]


def pdf_figures(services, quick: bool) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="webapp-bench-pdfs-") as tmp:
        found = common.pdf_files(quick, Path(tmp))
        if found is None:
            return []  # no real PDFs and no reportlab to make some: the figure is left out
        files, what = found
        repeats = 1 if quick else 3
        ours, base = [], []
        for _ in range(repeats):
            ours.append(ours_files(services, files))
            base.append(starter_files(services, files))
    ours_s = common.median([r[0] for r in ours])
    base_s = common.median([r[0] for r in base])
    pages, base_pages = ours[0][1], base[0][1]
    note = (
        f"{what}: {pages} pages; ours: upload path (sandboxed pypdf, {ours[0][2]} chunks) "
        f"{ours_s:.1f} s; starter: SimpleDirectoryReader + from_documents ({base_pages} pages, "
        f"{base[0][2]} chunks) {base_s:.1f} s; median of {repeats}"
    )
    return [
        Figure(
            "pdf_pages_per_s",
            "pages/s",
            round(pages / ours_s, 2),
            round(base_pages / base_s, 2),
            note,
        )
    ]


def figures(services, quick: bool) -> list[Figure]:
    return text_figures(services, quick) + pdf_figures(services, quick)
