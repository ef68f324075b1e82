"""Grounding: is an answer's key content in the passage it cites? Hand-made cases."""

import pytest

from webapp.chat.grounding import check, is_abstention

SOURCES = [
    "Skarvik Light was built in 1871 and is 42 metres tall. The cooperative restored it in 2009.",
    "The volunteer programme is run by Elin Sandberg. Volunteers paint the towers every June.",
]


@pytest.mark.parametrize(
    ("answer", "question"),
    [
        ("Skarvik Light is 42 metres tall [1].", "How tall is Skarvik Light?"),
        ("Elin Sandberg [2]", "Who runs the volunteer programme?"),
        ("42 metres", "How tall is Skarvik Light?"),  # a bare span, no marker: any source
        ("Volunteers painted the towers in June [2].", "When do volunteers paint?"),  # inflection
    ],
)
def test_supported_answers_are_grounded(answer, question):
    result = check(answer, question, SOURCES)
    assert result.grounded and result.support >= 0.7 and result.unsupported == []


@pytest.mark.parametrize(
    ("answer", "question"),
    [
        ("Skarvik Light is 55 metres tall [1].", "How tall is Skarvik Light?"),  # wrong number
        ("It was designed by Gustave Eiffel in Paris.", "Who designed Skarvik Light?"),
        ("Elin Sandberg [1].", "Who runs the volunteer programme?"),  # cites the wrong passage
    ],
)
def test_unsupported_answers_are_not(answer, question):
    assert not check(answer, question, SOURCES).grounded


def test_a_partly_supported_answer_names_the_unsupported_sentence():
    answer = "Skarvik Light was built in 1871 [1]. Norwegian sailors painted it red in 1950."
    result = check(answer, "When was Skarvik Light built?", SOURCES)
    assert not result.grounded
    assert result.unsupported == ["Norwegian sailors painted it red in 1950."]


def test_declining_is_recognised_and_restating_the_question_is_not_a_claim():
    assert is_abstention("The sources do not mention a Wi-Fi password.")
    assert not is_abstention("Skarvik Light is 42 metres tall.")
    assert check("Skarvik Light?", "How tall is Skarvik Light?", SOURCES).grounded
