"""Citation markers: find the [n] an answer cites, add them where a small model forgot, and
point them at the right source where it cited the wrong one.

A sentence without a marker is attributed to the source that contains most of its content
words (post-hoc attribution); a sentence no source supports stays unmarked, so a marker is
never invented for text the documents do not contain. A sentence whose markers all name
sources that do not support it, while another source does, cites that one instead (small
models copy the numbers of their examples: "Okafor [2]" with the name in [1]).
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
        best, support = _best_source(content_words(sentence), vocab)
        if best is not None and support >= MIN_SUPPORT:
            sentence = _mark(sentence, best)
        out.append(sentence)
    return join_sentences(out)


def repair_citations(answer: str, source_texts: list[str]) -> str:
    """Markers re-pointed, sentence by sentence, where none of a sentence's cited sources
    supports it (or names a source at all: "[3]" of two) and another source does; every
    other sentence is left as it is."""
    if not source_texts or not MARKER.search(answer):
        return answer
    vocab = [content_words(t) for t in source_texts]
    out, changed = [], False
    for sentence in sentences(answer):
        cited = [int(n) for n in MARKER.findall(sentence)]
        words = content_words(MARKER.sub(" ", sentence))
        if cited and words and not any(_supports(words, vocab, n) for n in cited):
            best, support = _best_source(words, vocab)
            if best is not None and support >= MIN_SUPPORT:
                sentence = _cite_only(sentence, best)
                changed = True
        out.append(sentence)
    return join_sentences(out) if changed else answer


def _cite_only(sentence: str, number: int) -> str:
    """The sentence with its first marker made [number] and its other markers dropped."""
    first = MARKER.search(sentence)
    if first is None:  # nothing to re-point (callers pass sentences with markers)
        return sentence
    rest = MARKER.sub("", sentence[first.end() :])
    rest = re.sub(r"^ +(?=[.!?。！？,，]|$)|  +", lambda m: "" if m.start() == 0 else " ", rest)
    return f"{sentence[: first.start()]}[{number}]{rest}".rstrip()


def _supports(words: set[str], vocab: list[set[str]], number: int) -> bool:
    """Whether source `number` (1-based; a number naming no source never does) holds most
    of the sentence's words."""
    return 1 <= number <= len(vocab) and _share(words, vocab[number - 1]) >= MIN_SUPPORT


def _share(words: set[str], source_words: set[str]) -> float:
    return len(words & source_words) / len(words) if words else 0.0


def _best_source(words: set[str], vocab: list[set[str]]) -> tuple[int | None, float]:
    best, support = None, 0.0
    for number, source_words in enumerate(vocab, start=1):
        share = _share(words, source_words)
        if share > support:
            best, support = number, share
    return best, support


def _mark(sentence: str, number: int) -> str:
    stripped = sentence.rstrip()
    if stripped and stripped[-1] in ".!?。！？":
        return f"{stripped[:-1]} [{number}]{stripped[-1]}"
    return f"{stripped} [{number}]"
