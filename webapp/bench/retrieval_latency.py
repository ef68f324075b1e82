"""Retrieval latency at 5k and 100k chunks: our retriever against the plain LlamaIndex one.

Embedding 100k real chunks would take hours here, so the collection is synthetic: chunk texts
are ~120-word windows of SciFact abstracts (cycled; generated text without ../shared/data)
with random unit 384-d vectors, stored through the knowledge base's own vector store with the
metadata an upload gets (documents of 10 chunks, chunk 0 the registry entry), so our BM25
index and registry work on it. Dense scores are meaningless on random vectors; the work done
per query is not.

Ours: `services.retriever(owner, 4)` as the chat builds it for each question (hybrid by
default: query embedding, Chroma top-20, BM25 top-20, fusion), retriever construction
included. Baseline: `VectorStoreIndex.from_vector_store(...).as_retriever()` (top 4) on the
same collection with the same embedder object, built once. Queries are SciFact claims,
interleaved between the two; the first query of each size (which builds the BM25 index) is
left out and its time reported in the note.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from webapp.bench import common
from webapp.bench.runner import Figure

DIM = 384
PER_DOC = 10
WORDS = 120


def _chunk_texts(limit: int) -> tuple[list[str], str]:
    texts, what = common.corpus(limit)
    chunks = []
    for _, text in texts:
        words = text.split()
        chunks += [" ".join(words[i : i + WORDS]) for i in range(0, len(words), WORDS)]
    return chunks, what


def _add(store, texts: list[str], start: int, stop: int, seed: int) -> None:
    """Chunks start..stop-1 (texts cycled) with random unit vectors, in batches."""
    import numpy as np
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    from webapp.owners import owner_key

    rng = np.random.default_rng(seed)
    added = datetime.now(UTC).isoformat(timespec="seconds")
    batch = 2000
    for first in range(start, stop, batch):
        last = min(first + batch, stop)
        vectors = rng.standard_normal((last - first, DIM)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        nodes = []
        for i, vector in zip(range(first, last), vectors, strict=True):
            doc = f"doc{i // PER_DOC:06d}"
            text = texts[i % len(texts)]
            metadata = {
                "file_id": doc,
                "file": f"{doc}.txt",
                "kind": "text",
                "sha256": doc,
                "bytes": len(text) * PER_DOC,
                "added": added,
                "owner": owner_key(common.OWNER),
                "chunk_index": i % PER_DOC,
                "doc_chunks": PER_DOC,
            }
            node = TextNode(
                id_=str(uuid.uuid4()),
                text=text,
                metadata=metadata,
                excluded_embed_metadata_keys=list(metadata),
                excluded_llm_metadata_keys=list(metadata),
                embedding=vector.tolist(),
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"{doc}:0")
            nodes.append(node)
        store.add(nodes)


def _measure(scratch, embed_model, questions: list[str]) -> tuple[list[float], list[float], float]:
    from llama_index.core import VectorStoreIndex

    owner = common.OWNER
    plain = VectorStoreIndex.from_vector_store(
        scratch.knowledge.vector_store(owner), embed_model=embed_model
    ).as_retriever(similarity_top_k=4)
    start = time.perf_counter()
    scratch.retriever(owner, 4).retrieve(questions[0])  # builds the BM25 index
    first_s = time.perf_counter() - start
    plain.retrieve(questions[0])
    ours, base = [], []
    for q in questions[1:]:
        start = time.perf_counter()
        scratch.retriever(owner, 4).retrieve(q)
        ours.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        plain.retrieve(q)
        base.append(1000 * (time.perf_counter() - start))
    return ours, base, first_s


def figures(services, quick: bool) -> list[Figure]:
    sizes = {"5k": 1_000, "100k": 5_000} if quick else {"5k": 5_000, "100k": 100_000}
    texts, what = _chunk_texts(400 if quick else 6000)
    questions, asked = common.queries(21 if quick else 201)
    out = []
    with common.throwaway(services) as scratch:
        store = scratch.knowledge.vector_store(common.OWNER)
        have = 0
        for label, size in sizes.items():
            start = time.perf_counter()
            _add(store, texts, have, size, seed=size)
            insert_s = time.perf_counter() - start
            have = size
            ours, base, first_s = _measure(scratch, services.embedder, questions)
            note = (
                f"{size} synthetic chunks ({len(texts)} text windows of {what}, random vectors; "
                f"{size - (sizes['5k'] if label == '100k' else 0)} stored in {insert_s:.0f} s), "
                f"{len(ours)} queries ({asked}), top 4; ours hybrid incl. query embedding and "
                f"retriever construction, first query (BM25 build) {first_s:.1f} s not counted; "
                "baseline: VectorStoreIndex.from_vector_store().as_retriever(), dense only"
            )
            for stat, fn in (("p50", common.median), ("p95", common.p95)):
                out.append(
                    Figure(
                        f"retrieval_{stat}_ms_{label}",
                        "ms",
                        round(fn(ours), 2),
                        round(fn(base), 2),
                        note,
                    )
                )
    return out
