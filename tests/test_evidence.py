"""Answers snapped to the source's exact words, and the evidence sentence's offsets."""

from __future__ import annotations

from webapp.chat import prompts
from webapp.chat.evidence import snap

SOURCES = [
    "The Quarn tower was designed by Gustave Eiffel. It was completed in 1889 for the fair. "
    "Visitors climb its 1,665 steps.",
    "Kessa is the capital of Morwen. It has 12 districts.",
]


def quoted(result, index: int) -> list[str]:
    return [SOURCES[index][s:e] for s, e in result.evidence.get(index, [])]


def test_a_near_span_becomes_the_passage_words_with_its_citation():
    result = snap("in year 1889 [1]", SOURCES)
    assert result.answer == "In 1889 [1]"
    assert result.snapped
    assert quoted(result, 0) == ["It was completed in 1889 for the fair."]


def test_a_misspelt_name_is_snapped_to_the_source_spelling():
    assert snap("Gustav Eifel [1]", SOURCES).answer == "Gustave Eiffel [1]"


def test_an_uncited_short_answer_is_snapped_and_gets_the_citation_of_its_source():
    result = snap("kessa", SOURCES)
    assert result.answer == "Kessa [2]"
    assert quoted(result, 1) == ["Kessa is the capital of Morwen."]


def test_snapping_never_changes_an_answer_that_is_not_in_the_sources():
    for answer in ("1890 [1]", "London", "Marie Curie [2]", "not Kessa [2]", "13 districts [2]"):
        result = snap(answer, SOURCES)
        assert result.answer == answer
        assert not result.snapped


def test_sentence_answers_are_not_rewritten_but_get_their_evidence():
    answer = "The tower was finished in 1889, in time for the fair [1]."
    result = snap(answer, SOURCES)
    assert result.answer == answer
    assert quoted(result, 0) == ["It was completed in 1889 for the fair."]


def test_evidence_offsets_point_inside_the_cited_text():
    for answer in ("1,665 steps [1]", "12 [2]", "Kessa is the capital of Morwen [2]."):
        result = snap(answer, SOURCES)
        assert result.evidence, answer
        for index, spans in result.evidence.items():
            for start, end in spans:
                assert 0 <= start < end <= len(SOURCES[index])


def test_chinese_sentences_end_at_full_width_stops():
    source = "埃菲尔铁塔建于1889年。它位于巴黎。"
    result = snap("1889 [1]", [source])
    [(start, end)] = result.evidence[0]
    assert source[start:end] == "埃菲尔铁塔建于1889年。"


def test_fact_questions_go_to_the_reader_and_explanations_do_not():
    facts = ["When was the tower completed?", "How many steps does it have?", "Who designed it?"]
    explain = ["Why was the tower built?", "How does LoRA work?", "What is LoRA?", "Explain RAG"]
    assert all(prompts.is_fact_question(q) for q in facts)
    assert not any(prompts.is_fact_question(q) for q in explain)
