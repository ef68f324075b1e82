"""Is an answer supported by the passages it cites?

The answer's key content is what it adds to the question: its content words that the
question does not already contain, and every number in it. A sentence is supported when its
numbers all occur in the passage it cites (or, without a marker, in any source) and at least
MIN_SUPPORT of its new content words do too. An answer is grounded when every sentence that
states something is supported. Unsupported answers are marked in the UI and in the JSON
(`"grounded": false`); with WEBAPP_REQUIRE_GROUNDING they are replaced by "I could not find
this in your documents".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webapp.chat.citations import MARKER
from webapp.text import content_words, sentences

MIN_SUPPORT = 0.7
ABSTAIN = re.compile(
    r"(could ?n[o']t|cannot|can't|unable to) (find|answer|tell)|"
    r"(do|does|did) ?n[o']t (contain|mention|say|provide|include|state)|"
    r"\bno (information|mention|answer)\b|not (mentioned|stated|provided|given)|"
    r"i (do not|don't) know|knowledge base is empty|"
    r"没有找到|未找到|找不到|没有提到|未提及|没有提及|无法回答|不知道|知识库是空的",
    re.I,
)
UNGROUNDED = (
    "I could not find this in your documents: the model's answer was not supported by the "
    "passages it was given. The closest passages are listed below."
)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SUFFIX = re.compile(r"(ing|ed|es|s)$")


@dataclass
class Grounding:
    grounded: bool
    support: float  # the weakest sentence's share of new content words found in its sources
    unsupported: list[str]  # the sentences that are not supported


def _stem(word: str) -> str:
    return _SUFFIX.sub("", word) if len(word) > 4 else word


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in content_words(text)}


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def is_abstention(answer: str) -> bool:
    """Does the answer decline ("the sources do not say")?"""
    return bool(ABSTAIN.search(answer))


def check(answer: str, question: str, sources: list[str]) -> Grounding:
    """`sources`: the passage texts the prompt numbered [1], [2]…"""
    asked = _stems(question)
    weakest, unsupported = 1.0, []
    for sentence in sentences(answer):
        cited = [int(n) for n in MARKER.findall(sentence) if 1 <= int(n) <= len(sources)]
        passages = [sources[n - 1] for n in cited] or sources
        claim = MARKER.sub("", sentence)
        new = _stems(claim) - asked
        numbers = _numbers(claim)
        if not new and not numbers:
            continue  # nothing stated beyond the question
        evidence = " ".join(passages)
        found = _stems(evidence)
        share = len(new & found) / len(new) if new else 1.0
        numbers_ok = numbers <= _numbers(evidence)
        weakest = min(weakest, share if numbers_ok else 0.0)
        if share < MIN_SUPPORT or not numbers_ok:
            unsupported.append(claim.strip())
    return Grounding(not unsupported, round(weakest, 3), unsupported)
