"""Scoring functions: SQuAD answer metrics and BEIR-style ranking metrics.

SQuAD's official normalisation: lower-case, drop punctuation and the articles a/an/the,
collapse white space. Chinese has no spaces between words, so each ideograph counts as a
word of its own (as MLQA's evaluation scores Chinese) and full-width punctuation is dropped
too: "两次" is then found in "他有两次拦截", and F1 counts shared characters. A chatty answer
("The tower is 330 metres tall [1].") scores 0 on exact match but 1 on `contains`, which is
why both are reported.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

from webapp.text import CJK

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | set("“”‘’–—…，。？！：；（）「」『』《》、·〈〉【】％")
_CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_IDEOGRAPH = re.compile(f"([{CJK}])")


def normalize(text: str) -> str:
    text = _CITATION.sub(" ", text or "").lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _IDEOGRAPH.sub(r" \1 ", _ARTICLES.sub(" ", text))
    return " ".join(text.split())


def exact_match(prediction: str, gold: str | Sequence[str]) -> float:
    return max(float(normalize(prediction) == normalize(g)) for g in _golds(gold))


def f1(prediction: str, gold: str | Sequence[str]) -> float:
    return max(_f1(prediction, g) for g in _golds(gold))


def _f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize(prediction).split(), normalize(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = Counter(predicted) & Counter(expected)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, gold: str | Sequence[str]) -> float:
    """1.0 when the normalised gold answer occurs, as whole words, in the normalised answer."""
    answer = f" {normalize(prediction)} "
    return max(float(bool(normalize(g)) and f" {normalize(g)} " in answer) for g in _golds(gold))


def _golds(gold: str | Sequence[str]) -> list[str]:
    golds = [gold] if isinstance(gold, str) else list(gold)
    return golds or [""]


# -- ranking --------------------------------------------------------------------------------
def first_relevant_rank(ranked: Sequence[str], relevant: set[str]) -> int | None:
    """1-based rank of the first relevant id, or None when none is retrieved."""
    return next((i for i, doc in enumerate(ranked, start=1) if doc in relevant), None)


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    rank = first_relevant_rank(ranked[:k] if k else ranked, relevant)
    return 1.0 / rank if rank else 0.0


def hit_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return float(any(doc in relevant for doc in ranked[:k]))


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def ndcg_at_k(ranked: Sequence[str], grades: dict[str, int], k: int) -> float:
    """nDCG@k with graded relevance (BEIR/pytrec_eval: gain = grade, discount log2(rank+1))."""
    dcg = sum(grades.get(doc, 0) / math.log2(i + 1) for i, doc in enumerate(ranked[:k], 1))
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    return dcg / idcg if idcg else 0.0


def unique_in_order(ids: Sequence[str]) -> list[str]:
    """Chunks map to documents; keep each document at its best rank."""
    return list(dict.fromkeys(ids))


def mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
