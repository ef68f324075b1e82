"""Hybrid search: BM25 keywords alongside the dense vectors, fused by reciprocal rank.

Dense search alone misses passages that share the question's exact words but not its
overall meaning (a 150-word chunk about many things scores low against "Who is the chair of
the board?"); keyword search alone misses paraphrases. Both rank the owner's chunks, and
reciprocal rank fusion (score = Σ 1 / (60 + rank)) merges the two lists.

The keyword index is derived from Chroma, the single source of truth: per owner, it holds
each stored chunk's words (tokenized once) and the bm25s index over them. When the stored
chunks change, it reads and tokenizes only the chunks it has not seen and re-scores the
whole index (a BM25 weight depends on every chunk: their number, their average length,
each word's document frequency), which at 100k chunks takes seconds where a rebuild from
scratch took over 20. It looks for changes
- on every question: this process's revision of the owner's documents, which moves when an
  upload, replacement or delete here starts and again when it ends. Where this process is
  the store's only writer (embedded Chroma, storage lock held: the usual server), that is
  all it needs, and it costs nothing;
- otherwise (a Chroma server shared by replicas, or a process beside the writer), also the
  number of chunks, at most every COUNT_CHECK_S seconds: counting costs 7 ms at 100k
  chunks, too much for every question;
- and, in the background every FULL_CHECK_S seconds, the list of chunk ids, which catches
  a replacement through another replica that kept the count.

Speed (a question at 100k chunks): Chroma gives the nearest chunks' ids alone, and only
the passages kept after fusion are read, text, metadata and vectors in one call, so neither
list reads chunks it drops, and the index keeps no copy of their text. The keyword search
itself (0.6 ms) runs on the calling thread: on a worker thread, beside the question's
embedding, it measured no faster (the two contend for the GIL and the two cores).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from webapp import text
from webapp.knowledge import store
from webapp.retrieval.retriever import EVERYTHING, Scope

log = logging.getLogger(__name__)

RRF_K = 60
COUNT_CHECK_S = 1.0
FULL_CHECK_S = 30.0
CANDIDATES = 20  # from each list before fusion
UNREAD_WEIGHT = 0.0  # the dense list's weight for a language the embedder does not read
RERANK_CANDIDATES = 20  # fused candidates the cross-encoder reorders
ID_PAGE = 40_000  # ids alone need no SQL variable per row: pages far larger than store.PAGE


@dataclass(frozen=True)
class KeywordHit:
    node_id: str
    score: float
    rank: int


class Keywords:
    """One build of an owner's BM25 index: bm25s's index of the chunks `ids` (in Chroma's
    order, which decides ties), each chunk's word ids, and the fields a scope filters on.
    Never changed once built, so questions search it from any thread while the next one is
    being built."""

    def __init__(self, ids: list[str], tokens: list, vocab: dict, files: list, kinds: list):
        import bm25s

        self.ids, self.tokens, self.vocab = ids, tokens, vocab
        self.files, self.kinds = files, kinds
        self.row = {chunk_id: n for n, chunk_id in enumerate(ids)}
        self._file_codes, self._files = _codes(files)
        self._kind_codes, self._kinds = _codes(kinds)
        self.bm25 = bm25s.BM25()
        corpus = bm25s.tokenization.Tokenized(ids=[t.tolist() for t in tokens], vocab=dict(vocab))
        self.bm25.index(corpus, show_progress=False)
        self.words = int(np.count_nonzero(np.diff(self.bm25.scores["indptr"])))  # in use

    def search(self, query: str, k: int, scope: Scope = EVERYTHING) -> list[KeywordHit]:
        """The k best chunks holding a word of the query; within a scope, the k best of the
        scope's chunks (ranked among all chunks first, as bm25s orders ties)."""
        total = len(self.ids)
        asked = [term for term in text.search_terms(query) if term in self.vocab]
        if not asked:
            return []
        found, scores = self.bm25.retrieve(
            [asked], k=total if scope else min(k, total), show_progress=False
        )
        found, scores = found[0], scores[0]
        keep = scores > 0
        if scope:
            keep &= self._allowed(scope)[found]
        found, scores = found[keep][:k].tolist(), scores[keep][:k].tolist()
        return [
            KeywordHit(self.ids[row], score, rank)
            for rank, (row, score) in enumerate(zip(found, scores, strict=True), start=1)
        ]

    def _allowed(self, scope: Scope) -> np.ndarray:
        """Per chunk: whether the scope lets it through (Scope.allows, for all at once)."""
        keep = np.ones(len(self.ids), dtype=bool)
        for chosen, codes, code in (
            (scope.documents, self._file_codes, self._files),
            (scope.kinds, self._kind_codes, self._kinds),
        ):
            if chosen:
                keep &= np.isin(codes, [code[c] for c in chosen if c in code])
        return keep


def _codes(values: list) -> tuple[np.ndarray, dict]:
    code: dict = {}
    return np.fromiter((code.setdefault(v, len(code)) for v in values), np.int32, len(values)), code


def _read_words(collection, ids: list[str], vocab: dict) -> dict[str, tuple]:
    """The chunks `ids` from Chroma, as their search terms (webapp.text.search_terms of the
    text an embedder sees: English as BM25Retriever tokenized it, Chinese segmented by
    jieba): id -> (word ids, file id, kind). New words join `vocab`. Chunks deleted
    meanwhile are left out. Terms are never stored: a change of tokenizer applies to every
    document, old ones included, when the index is next built (at start)."""
    out = {}
    for start in range(0, len(ids), store.PAGE):
        got = collection.get(
            ids=ids[start : start + store.PAGE], include=["documents", "metadatas"]
        )
        texts = [
            metadata_dict_to_node(meta, text=text).get_content(metadata_mode=MetadataMode.EMBED)
            for text, meta in zip(got["documents"], got["metadatas"], strict=True)
        ]
        for chunk_id, meta, body in zip(got["ids"], got["metadatas"], texts, strict=True):
            terms = text.search_terms(body)
            tokens = np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), np.int32)
            out[chunk_id] = (tokens, meta.get("file_id"), meta.get("kind"))
    return out


def _build(collection, ids: list[str], old: Keywords | None) -> Keywords | None:
    """The index of the chunks `ids`: what `old` already holds is reused, the rest read."""
    if old is not None and len(old.vocab) > 2 * old.words + 10_000:
        old = None  # mostly words of deleted chunks: start a fresh vocabulary
    vocab = dict(old.vocab) if old is not None else {}
    new = _read_words(collection, [i for i in ids if old is None or i not in old.row], vocab)
    kept, tokens, files, kinds = [], [], [], []
    for chunk_id in ids:
        if chunk_id in new:
            words, file_id, kind = new[chunk_id]
        elif old is not None and chunk_id in old.row:
            n = old.row[chunk_id]
            words, file_id, kind = old.tokens[n], old.files[n], old.kinds[n]
        else:
            continue  # deleted between the listing and the read
        kept.append(chunk_id)
        tokens.append(words)
        files.append(file_id)
        kinds.append(kind)
    return Keywords(kept, tokens, vocab, files, kinds) if kept else None


class KeywordIndex:
    """The BM25 index of one owner's collection, kept in step with the chunks stored there."""

    def __init__(self, collection, revision=lambda: 0, sole_writer=lambda: False):
        self.collection = collection
        self._revision = revision  # this process's change counter for the owner
        self._sole_writer = sole_writer  # true: the revision sees every change
        self._lock = threading.Lock()  # one update at a time
        self._keywords: Keywords | None = None
        self._seen: tuple | None = None  # (revision, chunk count) it was built at
        self._counted = 0.0  # when the chunk count was last compared
        self._listed = 0.0  # when the list of chunk ids was last compared
        self._listing = False  # that comparison is under way in the background

    def current(self) -> Keywords | None:
        """The index, first brought up to date when the owner's chunks changed (None while
        the owner has none)."""
        with self._lock:
            now, revision = time.monotonic(), self._revision()
            seen, alone = self._seen, self._sole_writer()
            due = not alone and now - self._counted >= COUNT_CHECK_S
            if seen is None or seen[0] != revision or due:
                count, self._counted = self.collection.count(), now
                if (revision, count) != seen:
                    self._keywords = _build(self.collection, self._chunk_ids(), self._keywords)
                    self._seen, self._listed = (revision, count), now
            if not alone and now - self._listed >= FULL_CHECK_S and not self._listing:
                self._listing, self._listed = True, now
                threading.Thread(target=self._compare_ids, args=(self._seen,), daemon=True).start()
            return self._keywords

    def _compare_ids(self, seen: tuple) -> None:
        """Background: bring the index up to date if the chunk ids changed while the count
        did not. Applied only if no other update came first (it would be newer)."""
        try:
            revision, count = self._revision(), self.collection.count()
            ids = self._chunk_ids()
            held = self._keywords
            if ids == (held.ids if held is not None else []):
                return
            keywords = _build(self.collection, ids, held)
            with self._lock:
                if self._seen == seen:
                    self._keywords, self._seen = keywords, (revision, count)
        except Exception:  # the next check tries again
            log.warning("could not compare the keyword index with the stored chunks", exc_info=True)
        finally:
            self._listing = False

    def _chunk_ids(self) -> list[str]:
        ids, offset = [], 0
        while True:
            got = self.collection.get(include=[], limit=ID_PAGE, offset=offset)["ids"]
            ids += got
            if len(got) < ID_PAGE:
                return ids
            offset += ID_PAGE

    def search(
        self, query: str, k: int = CANDIDATES, scope: Scope = EVERYTHING
    ) -> list[KeywordHit]:
        """The k best keyword hits; within a scope, the k best of the scope's chunks."""
        keywords = self.current()
        return keywords.search(query, k, scope) if keywords is not None else []


def keyword_match(query: str, passage: str) -> float:
    """Share of the query's distinct content words that occur in the passage (stemmed;
    Chinese as jieba's words, so a Chinese question is not one "word")."""
    asked = text.key_words(query)
    return len(asked & text.key_words(passage)) / len(asked) if asked else 0.0


def rrf(
    rankings: list[list[str]], k: int = RRF_K, weights: list[float] | None = None
) -> dict[str, float]:
    """Reciprocal rank fusion: score = Σ weight / (k + rank) over the lists."""
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
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
        reads_chinese: bool = True,
    ):
        super().__init__()
        self.reads_chinese = reads_chinese
        self.dense, self.keywords, self.embed_model = dense, keywords, embed_model
        self.collection, self.top_k, self.mode = collection, top_k, mode
        self.scope, self.reranker, self.diversity = scope, reranker, diversity

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        keywords = self.keywords.current() if self.mode != "dense" else None
        keyword = keywords.search(query, CANDIDATES, self.scope) if keywords is not None else []
        if query_bundle.embedding is None:  # embedded once: the dense search reuses it
            query_bundle.embedding = self.embed_model.get_query_embedding(query)
        embedding = query_bundle.embedding
        dense = self.dense.ranked(embedding) if self.mode != "bm25" else []
        cosine = dict(dense)
        fused = rrf(
            [[chunk_id for chunk_id, _ in dense], [h.node_id for h in keyword]],
            weights=[self.dense_weight(query), 1.0],
        )
        rerank: dict[str, float] = {}
        rows: dict[str, tuple] = {}
        if self.reranker is not None:
            candidates = list(fused)[:RERANK_CANDIDATES]
            rows = self._read(candidates)
            chosen, rerank = self._rerank(query_bundle, candidates, rows)
        elif self.diversity > 0:
            rows = self._read(list(fused)) if len(fused) > 1 else {}
            chosen = self._mmr(fused, rows)
        else:
            chosen = list(fused)[: self.top_k]
        rows.update(self._read([i for i in chosen if i not in rows]))
        chosen = [i for i in chosen if i in rows]  # a chunk deleted meanwhile is not returned
        q = np.asarray(embedding, dtype=np.float32)
        for i in chosen:
            if i not in cosine:  # a keyword-only hit: its cosine, for thresholds and display
                v = rows[i][1]
                cosine[i] = float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v) + 1e-12))
        nodes = [rows[i][0] for i in chosen]
        return self._explain(query, nodes, dense, keyword, fused, cosine, rerank)

    def dense_weight(self, query: str) -> float:
        """The dense list's weight in the fusion: UNREAD_WEIGHT (0) for a Chinese question
        when the embedder reads no Chinese, else 1. Measured on XQuAD-zh (1,190 questions)
        with the bundled all-MiniLM-L6-v2: dense alone nDCG@10 0.274, BM25 alone 0.951, and
        fused with the dense weight at 1 / 0.25 / 0.1 / 0.05 / 0.02: 0.688 / 0.792 / 0.869 /
        0.905 / 0.938. Even as a tie-breaker, a list that cannot read the question only
        moves right passages down; at 0 its passages still fill the places BM25 leaves."""
        return UNREAD_WEIGHT if not self.reads_chinese and text.is_chinese(query) else 1.0

    def _read(self, ids: list[str]) -> dict[str, tuple]:
        """The chunks `ids` from Chroma in one read: id -> (node, vector)."""
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        return {
            chunk_id: (metadata_dict_to_node(meta, text=text), np.asarray(vector, np.float32))
            for chunk_id, text, meta, vector in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
        }

    def _explain(self, query, chosen, dense, keyword, fused, cosine, rerank) -> list:
        """The chosen passages, each with why it was picked (its `retrieval` entry): where
        the dense list put it, its BM25 score and place among the keyword hits, the share of
        the question's words it holds, its place after fusion (before any reranking or MMR),
        its final rank and the reranker's score."""
        dense_rank = {chunk_id: n for n, (chunk_id, _) in enumerate(dense, start=1)}
        fused_rank = {node_id: n for n, node_id in enumerate(fused, start=1)}
        kw = {h.node_id: h for h in keyword}
        results = []
        for rank, node in enumerate(chosen, start=1):
            node_id, hit = node.node_id, kw.get(node.node_id)
            node.metadata["retrieval"] = {
                "dense": round(cosine.get(node_id, 0.0), 4),
                "dense_rank": dense_rank.get(node_id),
                "keyword": round(hit.score, 3) if hit else 0.0,
                "keyword_rank": hit.rank if hit else None,
                "match": round(keyword_match(query, node.get_content()), 3),
                "fused_rank": fused_rank[node_id],
                "rank": rank,
                "mode": self.mode,
            }
            if node_id in rerank:
                node.metadata["retrieval"]["rerank"] = round(rerank[node_id], 4)
            results.append(NodeWithScore(node=node, score=cosine.get(node_id, 0.0)))
        return results

    def _rerank(self, query_bundle, candidates: list[str], rows) -> tuple[list[str], dict]:
        # The reranker is shared by every request: its top_n (set to RERANK_CANDIDATES when
        # built) is never changed here; the cut to top_k is ours.
        scored = [NodeWithScore(node=rows[i][0], score=0.0) for i in candidates if i in rows]
        ranked = self.reranker.postprocess_nodes(scored, query_bundle)[: self.top_k]
        return [r.node.node_id for r in ranked], {r.node.node_id: float(r.score) for r in ranked}

    def _mmr(self, fused: dict[str, float], rows: dict[str, tuple]) -> list[str]:
        """Maximal marginal relevance over the fused list: relevance is the fused score
        (scaled to 0-1), redundancy the cosine to passages already picked. LlamaIndex's own
        MMR helper ranks by query similarity alone, which would drop the keyword side."""
        ids = list(fused)
        if len(ids) <= 1:
            return ids[: self.top_k]
        vectors = {i: row[1] / (np.linalg.norm(row[1]) + 1e-12) for i, row in rows.items()}
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
