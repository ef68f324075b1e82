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
    assert result.grounded
    assert result.support >= 0.7
    assert result.unsupported == []


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


ZH_SOURCES = ["低秩适配（LoRA）于2021年由微软的研究人员提出。它只训练插入的低秩矩阵。"]


def test_chinese_answers_are_checked_by_their_words():
    asked = "低秩适配是哪一年提出的？"
    assert check("低秩适配于2021年由微软提出 [1]。", asked, ZH_SOURCES).grounded
    invented = check("低秩适配于2019年提出 [1]。", asked, ZH_SOURCES)  # a number in no source
    assert not invented.grounded
    assert invented.unsupported
    assert not check("它由谷歌的工程师发明 [1]。", "谁提出了低秩适配？", ZH_SOURCES).grounded
    # Two Chinese sentences without a space between them are two sentences.
    two = check("低秩适配由微软提出 [1]。它训练全部权重。", asked, ZH_SOURCES)
    assert two.unsupported == ["它训练全部权重。"]
    assert is_abstention("资料中没有提到这一点。")
