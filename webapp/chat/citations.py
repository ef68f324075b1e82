"""Citation markers: find the [n] an answer cites, and add them where a small model forgot.

A sentence without a marker is attributed to the source that contains most of its content
words (post-hoc attribution); a sentence no source supports stays unmarked, so a marker is
never invented for text the documents do not contain.
"""

from __future__ import annotations

import re

from webapp.text import content_words, join_sentences, sentences

MARKER = re.compile(r"\[(\d{1,2})\]")
MIN_SUPPORT = 0.6


def cited_numbers(answer: str, n_sources: int) -> list[int]:
    """Source numbers cited in the answer, in order of first appearance, valid ones only."""
    seen: list[int] = []
    for m in MARKER.finditer(answer):
        n = int(m.group(1))
        if 1 <= n <= n_sources and n not in seen:
            seen.append(n)
    return seen


def add_missing_citations(answer: str, source_texts: list[str]) -> str:
    if not source_texts or MARKER.search(answer):
        return answer
    vocab = [content_words(t) for t in source_texts]
    out = []
    for sentence in sentences(answer):
        words = content_words(sentence)
        best, support = None, 0.0
        for number, source_words in enumerate(vocab, start=1):
            share = len(words & source_words) / len(words) if words else 0.0
            if share > support:
                best, support = number, share
        if best is not None and support >= MIN_SUPPORT:
            sentence = _mark(sentence, best)
        out.append(sentence)
    return join_sentences(out)


def _mark(sentence: str, number: int) -> str:
    stripped = sentence.rstrip()
    if stripped and stripped[-1] in ".!?。！？":
        return f"{stripped[:-1]} [{number}]{stripped[-1]}"
    return f"{stripped} [{number}]"
