"""Hybrid search: BM25 keywords alongside the dense vectors, fused by reciprocal rank.

Dense search alone misses passages that share the question's exact words but not its
overall meaning (a 150-word chunk about many things scores low against "Who is the chair of
the board?"); keyword search alone misses paraphrases. Both rank the owner's chunks, and
reciprocal rank fusion (score = Σ 1 / (60 + rank)) merges the two lists.

The keyword index is derived from Chroma, the single source of truth: per owner, it is built
from the chunks stored there and rebuilt whenever the stored documents change. Each query
checks the chunk count and this process's revision of the owner's documents (bumped by every
upload, replacement and delete here); the full list of documents — which also catches a
change made by another replica sharing the Chroma server — is compared at most every
FULL_CHECK_S seconds. Building takes well under a second for thousands of chunks.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from webapp.knowledge.base import get_all
from webapp.retrieval.retriever import EVERYTHING, Scope

RRF_K = 60
FULL_CHECK_S = 30.0
CANDIDATES = 20  # from each list before fusion
RERANK_CANDIDATES = 20  # fused candidates the cross-encoder reorders
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@dataclass
class KeywordHit:
    node: object
    score: float
    rank: int


class KeywordIndex:
    """The BM25 index of one owner's collection, rebuilt when its documents change."""

    def __init__(self, collection, revision=lambda: 0):
        self.collection = collection
        self._revision = revision  # this process's change counter for the owner
        self._lock = threading.Lock()
        self._version = None
        self._documents = None
        self._checked = 0.0
        self._retriever = None

    def _document_ids(self) -> tuple:
        got = get_all(self.collection, ["metadatas"], where={"chunk_index": 0})
        return tuple(sorted(m["file_id"] for m in got["metadatas"]))

    def _build(self):
        from llama_index.retrievers.bm25 import BM25Retriever

        got = get_all(self.collection, ["documents", "metadatas"])
        nodes = [
            metadata_dict_to_node(meta, text=text)
            for text, meta in zip(got["documents"], got["metadatas"], strict=True)
        ]
        if not nodes:
            return None
        return BM25Retriever.from_defaults(
            nodes=nodes, similarity_top_k=min(CANDIDATES, len(nodes))
        )

    def retriever(self):
        with self._lock:
            version = (self.collection.count(), self._revision())
            stale = version != self._version
            if not stale and time.monotonic() - self._checked > FULL_CHECK_S:
                stale = self._document_ids() != self._documents
                self._checked = time.monotonic()
            if stale:
                self._documents, self._checked = self._document_ids(), time.monotonic()
                self._retriever, self._version = self._build(), version
            return self._retriever

    @property
    def stemmer(self):
        """The built index's stemmer (None before the first build), without a staleness
        check: counting a large collection's chunks is not free."""
        return getattr(self._retriever, "stemmer", None)

    def search(
        self, query: str, k: int = CANDIDATES, scope: Scope = EVERYTHING
    ) -> list[KeywordHit]:
        """The k best keyword hits; within a scope, the k best of the scope's chunks."""
        retriever = self.retriever()
        if retriever is None:
            return []
        total = int(retriever.bm25.scores.get("num_docs", k))
        retriever.similarity_top_k = total if scope else min(k, total)
        found = [r for r in retriever.retrieve(query) if (r.score or 0.0) > 0]
        if scope:
            found = [r for r in found if scope.allows(r.node.metadata)][:k]
        return [KeywordHit(r.node, float(r.score), rank) for rank, r in enumerate(found, start=1)]


def keyword_match(query: str, text: str, stem=None) -> float:
    """Share of the query's distinct content words that occur in the text (stemmed)."""
    from webapp.chat.citations import STOPWORDS

    def words(s: str) -> set[str]:
        found = {w.lower() for w in _TOKEN.findall(s)} - STOPWORDS
        return {stem(w) for w in found} if stem else found

    asked = words(query)
    return len(asked & words(text)) / len(asked) if asked else 0.0


def rrf(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return dict(sorted(fused.items(), key=lambda kv: -kv[1]))


class HybridRetriever(BaseRetriever):
    """`mode`: "hybrid" (fused), "dense" or "bm25". Returns at most top_k passages; each
    result's node metadata gets a `retrieval` entry saying why it was picked: dense score
    and rank, BM25 score and rank, keyword match, fused rank, final rank (and the
    reranker's score).

    Options: `scope` keeps the search inside chosen documents or file kinds; `reranker` (a
    LlamaIndex node postprocessor, e.g. SentenceTransformerRerank) reorders the best fused
    candidates; `diversity` > 0 picks the passages by maximal marginal relevance instead.
    """

    def __init__(
        self,
        dense,
        keywords: KeywordIndex,
        embed_model,
        collection,
        top_k,
        mode,
        scope: Scope = EVERYTHING,
        reranker=None,
        diversity: float = 0.0,
    ):
        super().__init__()
        self.dense, self.keywords, self.embed_model = dense, keywords, embed_model
        self.collection, self.top_k, self.mode = collection, top_k, mode
        self.scope, self.reranker, self.diversity = scope, reranker, diversity

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if query_bundle.embedding is None:  # embedded once: the dense search reuses it
            query_bundle.embedding = self.embed_model.get_query_embedding(query)
        dense = self.dense.retrieve(query_bundle) if self.mode != "bm25" else []
        keyword = self.keywords.search(query, scope=self.scope) if self.mode != "dense" else []
        by_id = {r.node.node_id: r.node for r in dense}
        by_id.update({h.node.node_id: h.node for h in keyword if h.node.node_id not in by_id})
        fused = rrf([[r.node.node_id for r in dense], [h.node.node_id for h in keyword]])
        rerank: dict[str, float] = {}
        if self.reranker is not None:
            chosen, rerank = self._rerank(query_bundle, list(fused)[:RERANK_CANDIDATES], by_id)
        elif self.diversity > 0:
            chosen = self._mmr(query_bundle.embedding, fused)
        else:
            chosen = list(fused)[: self.top_k]
        cosine = {r.node.node_id: float(r.score or 0.0) for r in dense}
        missing = [i for i in chosen if i not in cosine]
        if missing:  # keyword-only hits: their cosine score, for thresholds and display
            cosine.update(self._cosines(query_bundle.embedding, missing))
        return self._explain(
            query, [by_id[i] for i in chosen], dense, keyword, fused, cosine, rerank
        )

    def _explain(self, query, chosen, dense, keyword, fused, cosine, rerank) -> list:
        """The chosen passages, each with why it was picked (its `retrieval` entry): where
        the dense list put it, its BM25 score and place among the keyword hits, the share of
        the question's words it holds, its place after fusion (before any reranking or MMR),
        its final rank and the reranker's score."""
        dense_rank = {r.node.node_id: n for n, r in enumerate(dense, start=1)}
        fused_rank = {node_id: n for n, node_id in enumerate(fused, start=1)}
        kw = {h.node.node_id: h for h in keyword}
        stemmer = self.keywords.stemmer  # of the index `search` just brought up to date
        stem = stemmer.stemWord if stemmer is not None else None
        results = []
        for rank, node in enumerate(chosen, start=1):
            node_id, hit = node.node_id, kw.get(node.node_id)
            node.metadata["retrieval"] = {
                "dense": round(cosine.get(node_id, 0.0), 4),
                "dense_rank": dense_rank.get(node_id),
                "keyword": round(hit.score, 3) if hit else 0.0,
                "keyword_rank": hit.rank if hit else None,
                "match": round(keyword_match(query, node.get_content(), stem), 3),
                "fused_rank": fused_rank[node_id],
                "rank": rank,
                "mode": self.mode,
            }
            if node_id in rerank:
                node.metadata["retrieval"]["rerank"] = round(rerank[node_id], 4)
            results.append(NodeWithScore(node=node, score=cosine.get(node_id, 0.0)))
        return results

    def _rerank(self, query_bundle, candidates: list[str], by_id) -> tuple[list[str], dict]:
        # The reranker is shared by every request: its top_n (set to RERANK_CANDIDATES when
        # built) is never changed here; the cut to top_k is ours.
        nodes = [NodeWithScore(node=by_id[i], score=0.0) for i in candidates]
        ranked = self.reranker.postprocess_nodes(nodes, query_bundle)[: self.top_k]
        return [r.node.node_id for r in ranked], {r.node.node_id: float(r.score) for r in ranked}

    def _mmr(self, embedding: list[float], fused: dict[str, float]) -> list[str]:
        """Maximal marginal relevance over the fused list: relevance is the fused score
        (scaled to 0-1), redundancy the cosine to passages already picked. LlamaIndex's own
        MMR helper ranks by query similarity alone, which would drop the keyword side."""
        import numpy as np

        ids = list(fused)
        if len(ids) <= 1:
            return ids[: self.top_k]
        got = self.collection.get(ids=ids, include=["embeddings"])
        vectors = {
            i: np.asarray(v, dtype=np.float32)
            for i, v in zip(got["ids"], got["embeddings"], strict=True)
        }
        for v in vectors.values():
            v /= np.linalg.norm(v) + 1e-12
        top = max(fused.values())
        keep = 1.0 - self.diversity
        chosen: list[str] = []
        rest = [i for i in ids if i in vectors]
        while rest and len(chosen) < self.top_k:

            def value(i: str) -> float:
                redundancy = max((float(vectors[i] @ vectors[c]) for c in chosen), default=0.0)
                return keep * fused[i] / top - (1.0 - keep) * redundancy

            best = max(rest, key=value)
            chosen.append(best)
            rest.remove(best)
        return chosen

    def _cosines(self, embedding: list[float], ids: list[str]) -> dict[str, float]:
        import numpy as np

        got = self.collection.get(ids=ids, include=["embeddings"])
        q = np.asarray(embedding, dtype=np.float32)
        out = {}
        for node_id, vector in zip(got["ids"], got["embeddings"], strict=True):
            v = np.asarray(vector, dtype=np.float32)
            out[node_id] = float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v) + 1e-12))
        return out
