"""A knowledge base without models, for fast tests of the search logic (fusion, scope).

Everything is the shipped code — KnowledgeBase, Chroma in a temp dir, the BM25 keyword
index, KnowledgeRetriever and HybridRetriever wired by `retrieval.factory.Retrievers`, as the app wires them —
except the embedder: a word-concept table stands in for MiniLM, so which passage dense
search ranks first is known by construction. Like the real model with a rare code, it
knows nothing of words outside its table (an identifier such as QX7731).
"""

from __future__ import annotations

import re
from pathlib import Path

import chromadb
from llama_index.core.base.embeddings.base import BaseEmbedding

from webapp.knowledge.base import KnowledgeBase
from webapp.retrieval.factory import Retrievers
from webapp.retrieval.retriever import EVERYTHING

# One dimension per concept: a word and its synonyms share a direction.
CONCEPTS = (
    {"lamp", "lamps", "light", "lantern", "beacon"},
    {"lit", "lights", "glow", "glows", "shine", "shines"},
    {"dusk", "evening", "nightfall", "sunset"},
    {"ferry", "boat", "ship"},
    {"noon", "midday"},
)


class ConceptEmbedding(BaseEmbedding):
    """Counts of each concept's words, plus a small constant so no vector is zero."""

    def _vector(self, text: str) -> list[float]:
        words = re.findall(r"\w+", text.lower())
        return [sum(w in group for w in words) for group in CONCEPTS] + [0.1]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


class Search:
    """One store for every owner, and their retrievers, as the app builds them."""

    def __init__(self, storage: Path, settings):
        client = chromadb.PersistentClient(
            path=str(storage / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
        )
        self.embedder = ConceptEmbedding()
        self.knowledge = KnowledgeBase(client, self.embedder, str.split, storage, settings)
        self.retrievers = Retrievers(self.knowledge, self.embedder, settings)

    def add(self, owner: str, folder: Path, files: dict[str, str]) -> dict[str, str]:
        """Ingest each (name, text) as a file; returns {name: document id}."""
        folder.mkdir(parents=True, exist_ok=True)
        ids = {}
        for name, text in files.items():
            path = folder / name
            path.write_text(text, encoding="utf-8")
            result = self.knowledge.ingest(owner, path, name)
            assert result.ok, result.message
            ids[name] = result.doc_id
        return ids

    def retriever(self, owner: str, top_k: int = 4, mode: str = "hybrid", scope=EVERYTHING):
        return self.retrievers(owner, top_k, mode, scope)

    def files(self, owner: str, query: str, mode: str = "hybrid", scope=EVERYTHING) -> list:
        """The files of the passages found, best first."""
        found = self.retriever(owner, 4, mode, scope).retrieve(query)
        return [r.node.metadata["file"] for r in found]
