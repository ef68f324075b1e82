"""Citation markers: counted when present, added only where a source supports the sentence."""

import pytest

from webapp.chat.citations import add_missing_citations, cited_numbers
from webapp.chat.service import strip_preamble

SOURCES = [
    "The Zorblax tower is 412 meters tall and stands in Vantor.",
    "Blue soup is made from kelp and served cold.",
]


def test_existing_markers_are_kept_and_counted():
    answer = "It is 412 meters tall [1]. Soup is cold [2][7]."
    assert add_missing_citations(answer, SOURCES) == answer
    assert cited_numbers(answer, len(SOURCES)) == [1, 2]


def test_supported_sentences_get_the_supporting_source():
    answer = "The Zorblax tower is 412 meters tall. Blue soup is made from kelp."
    assert add_missing_citations(answer, SOURCES) == (
        "The Zorblax tower is 412 meters tall [1]. Blue soup is made from kelp [2]."
    )


def test_unsupported_sentences_stay_unmarked():
    answer = "Paris is the capital of France."
    assert add_missing_citations(answer, SOURCES) == answer


def test_no_sources_no_markers():
    assert add_missing_citations("Anything at all.", []) == "Anything at all."


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("The answer is: 27.", "27."),
        ("Answer: blue soup", "Blue soup"),
        ("The answer to this question is: Paris [1].", "Paris [1]."),
        ("The answer lies in the sources.", "The answer lies in the sources."),
        ("The answer is:", "The answer is:"),
    ],
)
def test_answer_preamble_is_dropped(raw, clean):
    assert strip_preamble(raw) == clean


def test_chinese_sentences_get_their_source_without_spaces():
    sources = ["渡轮每天中午出发。", "低秩适配（LoRA）于2021年由微软的研究人员提出。"]
    answer = add_missing_citations("低秩适配由微软的研究人员提出。渡轮中午出发。", sources)
    assert answer == "低秩适配由微软的研究人员提出 [2]。渡轮中午出发 [1]。"


def test_a_wrong_citation_is_pointed_at_the_source_that_holds_the_sentence():
    from webapp.chat.citations import repair_citations

    assert repair_citations("It is 412 meters tall [2].", SOURCES) == "It is 412 meters tall [1]."
    assert repair_citations("412 meters [2][3]", SOURCES) == "412 meters [1]"
    mixed = "The tower is 412 meters tall [2]. Blue soup is made from kelp [2]."
    assert repair_citations(mixed, SOURCES) == (
        "The tower is 412 meters tall [1]. Blue soup is made from kelp [2]."
    )
    # Right citations, and sentences no source supports, stay as they are.
    for kept in ("It is 412 meters tall [1].", "Paris is the capital of France [2]."):
        assert repair_citations(kept, SOURCES) == kept
    assert repair_citations("Blue soup is cold [7].", SOURCES) == "Blue soup is cold [2]."
