"""Retrieval-only evaluation over a BEIR-format folder (corpus.jsonl, queries.jsonl,
qrels/test.tsv) or a SQuAD-format file (each paragraph a document, its questions the queries): the corpus goes into a throwaway knowledge base (its own temporary Chroma,
the app's embedder and chunking), each test query is searched as the chat searches, chunks
map back to their documents (duplicates dropped, best rank kept), and the ranking is scored
with nDCG@10, recall@1/5/10 and MRR@10.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from webapp.errors import DatasetError, InvalidOption
from webapp.evaluation import metrics

if TYPE_CHECKING:
    from webapp.knowledge.base import KnowledgeBase
    from webapp.retrieval.factory import Retrievers

MODES = ("dense", "bm25", "hybrid")
OWNER = "retrieval-eval"


def load_beir(folder: Path, split: str = "test"):
    """(corpus {id: text}, queries {id: text}, qrels {query id: {doc id: grade}})."""
    folder = Path(folder)
    paths = {
        "corpus": folder / "corpus.jsonl",
        "queries": folder / "queries.jsonl",
        "qrels": folder / "qrels" / f"{split}.tsv",
    }
    missing = [str(p.relative_to(folder)) for p in paths.values() if not p.is_file()]
    if missing == [f"qrels/{split}.tsv"]:
        raise DatasetError(f"This BEIR folder has no '{split}' judgements (qrels/{split}.tsv).")
    if missing:
        raise DatasetError(f"Not a BEIR folder: missing {', '.join(missing)}.")
    corpus = {}
    for row in _jsonl(paths["corpus"]):
        title, text = str(row.get("title") or "").strip(), str(row.get("text") or "").strip()
        corpus[str(row["_id"])] = f"{title}\n{text}".strip() if title else text
    queries = {str(r["_id"]): str(r["text"]) for r in _jsonl(paths["queries"])}
    qrels: dict[str, dict[str, int]] = {}
    with paths["qrels"].open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header line
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    qrels = {q: g for q, g in qrels.items() if q in queries and any(v > 0 for v in g.values())}
    if not corpus or not qrels:
        raise DatasetError("The BEIR folder has no documents or no judged test queries.")
    return corpus, queries, qrels


def load_squad(path: Path):
    """A SQuAD-format file (e.g. XQuAD) as a retrieval set: each paragraph a document, each
    question a query whose one relevant document is its paragraph."""
    from webapp.evaluation import squad

    try:
        paragraphs = squad.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError("Not a SQuAD-format JSON file (data → paragraphs → qas).") from exc
    corpus = {p.file: p.text for p in paragraphs}
    queries, qrels = {}, {}
    for p in paragraphs:
        for n, item in enumerate(p.questions):
            qid = f"{p.file}#{n}"
            queries[qid], qrels[qid] = item.question, {p.file: 1}
    if not corpus or not qrels:
        raise DatasetError("The SQuAD file has no paragraphs with questions.")
    return corpus, queries, qrels


def load_dataset(path: Path, split: str = "test"):
    """A BEIR folder (its qrels/SPLIT.tsv judgements), or a SQuAD-format .json file."""
    path = Path(path)
    if path.is_file() and path.suffix == ".json":
        return load_squad(path)
    return load_beir(path, split)


def _jsonl(path: Path):
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path.name} line {number} is not valid JSON.") from exc


class Scratch(NamedTuple):
    """A throwaway knowledge base (its own Chroma, the app's embedder and chunking) and the
    retrievers over it, as the chat searches."""

    knowledge: KnowledgeBase
    retrievers: Retrievers


def evaluate_modes(
    open_scratch: Callable[[Path], Scratch],
    embed_model: str,
    folder: Path,
    top_k: int = 10,
    modes: Sequence[str] = ("dense",),
    limit: int | None = None,
    progress: Callable[[float, str], None] | None = None,
    split: str = "test",
) -> list[dict]:
    """Each of `modes` scored on the folder's queries; the corpus goes into
    `open_scratch(a temporary folder)`, deleted after. `embed_model` names the embedder."""
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise InvalidOption(f"Unknown mode '{unknown[0]}'; available: {', '.join(MODES)}, all.")
    if not 1 <= top_k <= 100:
        raise InvalidOption("--top-k must be between 1 and 100.")
    corpus, queries, qrels = load_dataset(folder, split)
    judged = sorted(qrels)[:limit] if limit else sorted(qrels)
    with tempfile.TemporaryDirectory(prefix="webapp-beir-") as tmp:
        throwaway = open_scratch(Path(tmp))
        t0 = time.perf_counter()
        chunks = throwaway.knowledge.add_texts(
            OWNER,
            list(corpus.items()),
            progress=(lambda f, w: progress(0.9 * f, f"indexing: {w}")) if progress else None,
        )
        index_s = time.perf_counter() - t0
        results = []
        for n_mode, mode in enumerate(modes):
            # Chunks map to documents: ask for more chunks than documents are scored.
            retriever = throwaway.retrievers(OWNER, max(top_k, 10) * 3, mode=mode)
            scores, latencies = _score(retriever, judged, queries, qrels, top_k)
            result: dict[str, float | int | str] = {
                key: round(metrics.mean(values) or 0.0, 4) for key, values in scores.items()
            }
            result.update(
                {
                    "latency_ms_p50": round(metrics.median(latencies) or 0.0, 2),
                    "queries": len(judged),
                    "documents": len(corpus),
                    "chunks": chunks,
                    "index_s": round(index_s, 1),
                    "mode": mode,
                    "top_k": top_k,
                    "embedder": embed_model,
                }
            )
            results.append(result)
            if progress:
                progress(0.9 + 0.1 * (n_mode + 1) / len(modes), f"scored {mode}")
    return results


def _score(retriever, judged, queries, qrels, top_k):
    scores = {"ndcg@10": [], "recall@1": [], "recall@5": [], "recall@10": [], "mrr@10": []}
    latencies = []
    retriever.retrieve("warm up")  # the first query builds the keyword index
    for qid in judged:
        t1 = time.perf_counter()
        found = retriever.retrieve(queries[qid])
        latencies.append((time.perf_counter() - t1) * 1000)
        ranked = metrics.unique_in_order([r.node.metadata["file"] for r in found])
        ranked = ranked[: max(top_k, 10)]
        grades = qrels[qid]
        relevant = {d for d, g in grades.items() if g > 0}
        scores["ndcg@10"].append(metrics.ndcg_at_k(ranked, grades, 10))
        scores["mrr@10"].append(metrics.reciprocal_rank(ranked, relevant, 10))
        for k in (1, 5, 10):
            scores[f"recall@{k}"].append(metrics.recall_at_k(ranked, relevant, k))
    return scores, latencies
