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
left out and its time reported in the note. Should our configured search fail on a size (it
did at 100k: the BM25 index reads the whole collection in one Chroma `get`, which SQLite
refuses beyond 32,766 rows), ours is measured in dense mode there, the note says so, and
`retrieval_<mode>_works_<size>` is 0.
"""

from __future__ import annotations

import sys
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


def _measure(scratch, embed_model, questions: list[str]) -> dict:
    """Latencies (ms) of ours and the baseline; ours falls back to dense-only search, and
    says why, when our configured search fails on this collection."""
    from llama_index.core import VectorStoreIndex

    owner = common.OWNER
    plain = VectorStoreIndex.from_vector_store(
        scratch.knowledge.vector_store(owner), embed_model=embed_model
    ).as_retriever(similarity_top_k=4)
    mode, failure = scratch.settings.retrieval, None
    start = time.perf_counter()
    try:
        scratch.retriever(owner, 4).retrieve(questions[0])  # builds the BM25 index
    except Exception as exc:
        failure = f"{type(exc).__name__}: {str(exc)[:160]}"
        print(f"  {mode} search failed, measuring dense search: {failure}", file=sys.stderr)
        mode = "dense"
        scratch.retriever(owner, 4, mode=mode).retrieve(questions[0])
    first_s = time.perf_counter() - start
    plain.retrieve(questions[0])
    ours, base = [], []
    for q in questions[1:]:
        start = time.perf_counter()
        scratch.retriever(owner, 4, mode=mode).retrieve(q)
        ours.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        plain.retrieve(q)
        base.append(1000 * (time.perf_counter() - start))
    return {"ours": ours, "base": base, "first_s": first_s, "mode": mode, "failure": failure}


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
            got = _measure(scratch, services.embedder, questions)
            configured = scratch.settings.retrieval
            if got["failure"]:
                what_ours = (
                    f"OURS IS DENSE ONLY HERE: {configured} search failed at this size "
                    f"({got['failure']})"
                )
            else:
                what_ours = f"ours {configured} incl. query embedding and retriever construction"
            note = (
                f"{size} synthetic chunks ({len(texts)} text windows of {what}, random vectors; "
                f"{size - (sizes['5k'] if label == '100k' else 0)} stored in {insert_s:.0f} s), "
                f"{len(got['ours'])} queries ({asked}), top 4; {what_ours}; first query "
                f"{got['first_s']:.1f} s not counted; baseline: "
                "VectorStoreIndex.from_vector_store().as_retriever(), dense only"
            )
            for stat, fn in (("p50", common.median), ("p95", common.p95)):
                out.append(
                    Figure(
                        f"retrieval_{stat}_ms_{label}",
                        "ms",
                        round(fn(got["ours"]), 2),
                        round(fn(got["base"]), 2),
                        note,
                    )
                )
            out.append(
                Figure(
                    f"retrieval_{configured}_works_{label}",
                    "1 = yes",
                    0.0 if got["failure"] else 1.0,
                    None,
                    f"our {configured} search answers on {size} chunks"
                    + (f": no, {got['failure']}" if got["failure"] else ""),
                )
            )
    return out
