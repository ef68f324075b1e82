"""Training triples for tuning the embedder: (question, the passage that answers it, a hard
negative). The hard negative is the passage BM25 ranks highest among those not judged
relevant: it shares the question's words, so the embedder learns more from telling them apart
than from a random passage. BM25 here is the keyword index's own (`hybrid.Keywords` over
`text.search_terms`), so "shares the words" means what it means in the chat's search.

Takes plain parts: a corpus {passage id: text}, queries {id: text} and judgements {query id:
{passage id: grade}}, as a BEIR folder gives them (evaluation.retrieval.load_beir) or as the
command line builds them from a user's documents.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from webapp import text
from webapp.errors import DatasetError
from webapp.retrieval.hybrid import Keywords

CANDIDATES = 30  # BM25 passages looked at for a hard negative


class Triple(NamedTuple):
    query: str
    positive: str
    negative: str


def keyword_index(corpus: Mapping[str, str]) -> Keywords:
    """The BM25 index of the corpus, as the chat's keyword index builds one."""
    vocab: dict[str, int] = {}
    tokens = [
        np.fromiter((vocab.setdefault(t, len(vocab)) for t in text.search_terms(body)), np.int32)
        for body in corpus.values()
    ]
    ids = list(corpus)
    return Keywords(ids, tokens, vocab, ids, [None] * len(ids))


def triples(
    corpus: Mapping[str, str],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    max_pairs: int | None = None,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> list[Triple]:
    """One triple per judged (query, relevant passage) pair, its negative the best BM25
    passage not judged relevant (a random one when BM25 finds none). `max_pairs`: a fixed
    sample of that many (seed)."""
    pairs = [
        (qid, pid)
        for qid, grades in sorted(qrels.items())
        for pid, grade in sorted(grades.items())
        if grade > 0 and qid in queries and pid in corpus
    ]
    if not pairs:
        raise DatasetError("No judged question-passage pairs to train on.")
    if max_pairs and len(pairs) > max_pairs:
        pairs = sorted(random.Random(seed).sample(pairs, max_pairs))
    index, ids, rng = keyword_index(corpus), list(corpus), random.Random(seed)
    out = []
    for n, (qid, pid) in enumerate(pairs):
        relevant = {p for p, g in qrels[qid].items() if g > 0}
        hits = [h.node_id for h in index.search(queries[qid], CANDIDATES)]
        negative = next((h for h in hits if h not in relevant), None)
        while negative is None or negative in relevant:
            if len(relevant) >= len(ids):
                raise DatasetError("Every passage is relevant: no negative to train against.")
            negative = rng.choice(ids)
        out.append(Triple(queries[qid], corpus[pid], corpus[negative]))
        if progress and n % 50 == 0:
            progress(n / len(pairs), f"hard negatives: {n}/{len(pairs)}")
    return out


def fingerprint(rows: list[Triple]) -> str:
    """sha256 of the triples, as JSON lines: the same data gives the same fingerprint."""
    h = hashlib.sha256()
    for row in rows:
        h.update((json.dumps(list(row), ensure_ascii=False) + "\n").encode("utf-8"))
    return h.hexdigest()
