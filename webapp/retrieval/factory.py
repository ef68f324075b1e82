"""The owners' retrievers, wired one way for the chat, the CLI, the benchmarks and the tests.

Dense search over the owner's Chroma collection, alone (`dense` with no reranker and no
diversity) or fused with the owner's BM25 index (`hybrid`, `bm25`), then reranked by the
optional cross-encoder and diversified as the settings say. Each owner's keyword index is
built once and kept in step with the knowledge base (see `retrieval.hybrid.KeywordIndex`);
`forget(owner)` drops it when their data is deleted.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.postprocessor.types import BaseNodePostprocessor

from webapp.config import Settings
from webapp.retrieval.hybrid import CANDIDATES, HybridRetriever, KeywordIndex
from webapp.retrieval.retriever import EVERYTHING, KnowledgeRetriever, Scope

if TYPE_CHECKING:
    from webapp.knowledge.base import KnowledgeBase


class Retrievers:
    def __init__(
        self,
        knowledge: KnowledgeBase,
        embedder: BaseEmbedding,
        settings: Settings,
        reranker: BaseNodePostprocessor | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.embedder = embedder
        self.settings = (
            settings  # retrieval (the default mode), diversity, the embedder's languages
        )
        self.reranker = reranker
        self._keywords: dict[str, KeywordIndex] = {}
        self._guard = threading.Lock()

    def __call__(
        self, owner: str, top_k: int, mode: str | None = None, scope: Scope | None = None
    ) -> BaseRetriever:
        """The owner's retriever: WEBAPP_RETRIEVAL (hybrid by default), or `mode`; `scope`
        keeps it inside chosen documents or file kinds."""
        mode, scope = mode or self.settings.retrieval, scope or EVERYTHING
        diversity = self.settings.diversity
        plain = mode == "dense" and self.reranker is None and diversity == 0
        store = self.knowledge.vector_store(owner)
        depth = top_k if plain else max(top_k, CANDIDATES)
        dense = KnowledgeRetriever(store, self.embedder, depth, scope)
        if plain:
            return dense
        return HybridRetriever(
            dense,
            self.keyword_index(owner),
            self.embedder,
            store.client,  # the store's own collection: no second lookup
            top_k,
            mode,
            scope=scope,
            reranker=self.reranker,
            diversity=diversity,
            reads_chinese=self.settings.embedder_reads_chinese,
        )

    def keyword_index(self, owner: str) -> KeywordIndex:
        """The owner's BM25 index (kept in step with Chroma; see retrieval.hybrid)."""
        with self._guard:
            if owner not in self._keywords:
                knowledge = self.knowledge
                self._keywords[owner] = KeywordIndex(
                    knowledge.collection(owner),
                    lambda: knowledge.revision(owner),
                    knowledge.sole_writer,
                )
            return self._keywords[owner]

    def forget(self, owner: str) -> None:
        with self._guard:
            self._keywords.pop(owner, None)
