"""Citation markers: counted when present, added only where a source supports the sentence."""

from webapp.chat.citations import add_missing_citations, cited_numbers

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
