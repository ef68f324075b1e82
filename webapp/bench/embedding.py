"""The embedder alone: chunks per second in batches, and one query's latency.

Ours is the app's embedder object (HuggingFaceEmbedding, batch 32); the baseline is
HuggingFaceEmbedding with its defaults (batch 10) on the same model files. The chunks are our
splitter's chunks of SciFact abstracts (or generated text without ../shared/data).
"""

from __future__ import annotations

import time

from webapp.bench import common
from webapp.bench.runner import Figure


def _chunks(services, n: int) -> tuple[list[str], str]:
    texts, what = common.corpus(n)
    with common.throwaway(services) as scratch:
        splitter = scratch.knowledge.splitter
        chunks = [c for _, text in texts for c in splitter.split_text(text)]
    return chunks, what


def _throughput(embed_model, chunks: list[str]) -> float:
    start = time.perf_counter()
    embed_model.get_text_embedding_batch(chunks)
    return len(chunks) / (time.perf_counter() - start)


def _query_ms(embed_model, query: str) -> float:
    start = time.perf_counter()
    embed_model.get_query_embedding(query)
    return 1000 * (time.perf_counter() - start)


def figures(services, quick: bool) -> list[Figure]:
    ours, base = services.embedder, common.baseline_embedder(services)
    chunks, what = _chunks(services, 40 if quick else 100)
    repeats = 1 if quick else 3
    for model in (ours, base):  # warm-up, untimed
        model.get_text_embedding_batch(chunks[:8])
        model.get_query_embedding("warm up")
    ours_rate, base_rate = [], []
    for _ in range(repeats):
        ours_rate.append(_throughput(ours, chunks))
        base_rate.append(_throughput(base, chunks))
    questions, asked = common.queries(20 if quick else 100)
    ours_ms, base_ms = [], []
    for q in questions:  # interleaved, so load from elsewhere hits both alike
        ours_ms.append(_query_ms(ours, q))
        base_ms.append(_query_ms(base, q))
    return [
        Figure(
            "embed_chunks_per_s",
            "chunks/s",
            round(common.median(ours_rate), 1),
            round(common.median(base_rate), 1),
            f"{len(chunks)} chunks of {what}, batch 32 (ours) vs 10 (defaults); "
            f"median of {repeats}",
        ),
        Figure(
            "query_embed_ms",
            "ms",
            round(common.median(ours_ms), 2),
            round(common.median(base_ms), 2),
            f"median over {asked}, one at a time; "
            f"p95 ours {common.p95(ours_ms):.1f} ms, baseline {common.p95(base_ms):.1f} ms",
        ),
    ]
