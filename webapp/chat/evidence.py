"""Answers snapped to their source, and the sentence of the source that supports them.

Snapping: a short answer (a fact: "the Eiffel tower, 1889 [2]") that is nearly a span of the
passage it cites is replaced by that span's exact words, keeping its citation. "Nearly" is a
token F1 of at least SNAP_F1 between the answer and the span (the same measure SQuAD scores
with), so a small model's "in year 1889" becomes the passage's "1889" and "Gustav Eifel"
its "Gustave Eiffel". An answer that is not close to any span is left as it is: snapping
never makes up a match, and never drops a number or a "not" the answer says.

Evidence: for each cited passage, the sentence that holds the snapped span, or for a longer
answer, the sentence of the passage sharing most content words with the answer sentence
that cites it. Offsets are characters of the source's `text` (like `matched_spans`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from webapp.chat.citations import MARKER, cited_numbers
from webapp.text import CJK, STOPWORDS, sentences

SNAP_F1 = 0.6
MAX_SNAP_WORDS = 12  # longer answers are sentences: evidence only, never rewritten
# Words; each Chinese/Japanese ideograph is a word of its own (no spaces between them).
WORD = re.compile(rf"[{CJK}]|[^\W_{CJK}]+", re.UNICODE)
ARTICLES = frozenset({"a", "an", "the"})
NEGATIONS = frozenset({"not", "no", "never", "none", "neither", "nor", "without"})
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A sentence ends at . ! ? (or Chinese 。！？) followed by white space or the end.
SENTENCE = re.compile(r"[^.!?。！？]*(?:[.!?]+(?=\s|$)|[。！？]+|$)")
MIN_EVIDENCE_SHARE = 0.3


@dataclass
class Snapped:
    answer: str
    evidence: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # source -> spans
    snapped: bool = False


def tokens(text: str) -> list[str]:
    return [w for w in (m.group(0).lower() for m in WORD.finditer(text)) if w not in ARTICLES]


def token_f1(a: list[str], b: list[str]) -> float:
    common = sum((Counter(a) & Counter(b)).values())
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


def _close(word: str, wanted: set[str]) -> str:
    """`word`, or the answer word it is a near spelling of ("Eifel" for "Eiffel")."""
    if word in wanted or len(word) < 4:
        return word
    for w in wanted:
        if len(w) >= 4 and w[0] == word[0] and SequenceMatcher(None, w, word).ratio() >= 0.8:
            return w
    return word


def best_span(answer: str, passage: str) -> tuple[int, int, float] | None:
    """(start, end, F1) of the passage's word span closest to `answer`, or None. Ties go to
    the span as long as the answer (articles included: "the fair", not "fair")."""
    wanted = tokens(answer)
    if not wanted:
        return None
    vocab, n = set(wanted), len(WORD.findall(answer))
    words = [(m.start(), m.end(), m.group(0).lower()) for m in WORD.finditer(passage)]
    near = [_close(w, vocab) if w not in ARTICLES else w for *_, w in words]
    starts = sorted({j for i, w in enumerate(near) if w in vocab for j in (i - 2, i - 1, i)})
    best = None
    for i in (j for j in starts if j >= 0):
        for length in range(max(1, n - 2), n + 3):
            if i + length > len(words):
                break
            window = [w for w in near[i : i + length] if w not in ARTICLES]
            score = token_f1(window, wanted) if window else 0.0
            key = (score, -abs(length - n))
            if best is None or key > best[0]:
                best = (key, words[i][0], words[i + length - 1][1])
    if best is None:
        return None
    (score, _), start, end = best
    return start, end, score


def _sentences(text: str) -> list[tuple[int, int]]:
    """The sentences of `text` as (start, end), without their leading white space."""
    spans = []
    for m in SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        if e > s:
            spans.append((s, e))
    return spans


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence of `text` holding [start, end) (to `end` at least)."""
    for s, e in _sentences(text):
        if s <= start < e:
            return s, max(e, end)
    return start, end


def snap(answer: str, sources: list[str]) -> Snapped:
    """`sources`: the passage texts the prompt numbered [1], [2]…"""
    cited = cited_numbers(answer, len(sources))
    body = MARKER.sub("", answer).strip()
    size = len(WORD.findall(body))
    # A fact, not a sentence: a few words, or a phrase without a full stop ("Answer in one
    # sentence" answers are never rewritten, only given evidence).
    short = size <= 4 or (size <= MAX_SNAP_WORDS and not body.rstrip().endswith((".", "!", "?")))
    if short and body:
        found = _snap_short(body, cited, sources)
        if found is not None:
            return found
    return Snapped(answer, _sentence_evidence(answer, sources))


def _snap_short(body: str, cited: list[int], sources: list[str]) -> Snapped | None:
    candidates = cited or list(range(1, len(sources) + 1))
    best = None
    for n in candidates:
        span = best_span(body.rstrip(" .;:,"), sources[n - 1])
        if span and (best is None or span[2] > best[1][2]):
            best = (n, span)
    if best is None or best[1][2] < SNAP_F1:
        return None
    n, (start, end, _) = best
    exact = sources[n - 1][start:end]
    said, kept = tokens(body), tokens(exact)
    if (set(said) & NEGATIONS) - set(kept) or set(NUMBER.findall(body)) - set(
        NUMBER.findall(exact)
    ):
        return None  # the answer says more than the span: a "not" or a number it lacks
    evidence = {n - 1: [sentence_around(sources[n - 1], start, end)]}
    marker = "".join(f" [{c}]" for c in (cited or [n]))
    text = " ".join(exact.split())
    text = text[:1].upper() + text[1:]
    return Snapped(f"{text}{marker}", evidence, snapped=text != body)


def _sentence_evidence(answer: str, sources: list[str]) -> dict[int, list[tuple[int, int]]]:
    """For each answer sentence citing [n], the sentence of source n most like it."""
    evidence: dict[int, list[tuple[int, int]]] = {}
    for sentence in sentences(answer):
        numbers = cited_numbers(sentence, len(sources))
        words = set(tokens(MARKER.sub("", sentence))) - STOPWORDS
        if not words:
            continue
        for n in numbers:
            text = sources[n - 1]
            scored = [
                (len(words & set(tokens(text[s:e]))) / len(words), (s, e))
                for s, e in _sentences(text)
            ]
            share, span = max(scored, default=(0.0, None))
            if span and share >= MIN_EVIDENCE_SHARE and span not in evidence.get(n - 1, []):
                evidence.setdefault(n - 1, []).append(span)
    return evidence
