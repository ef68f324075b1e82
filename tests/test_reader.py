"""Reader adapters: training rows are RAG prompts as the chat builds them, holding the
passage that answers among distractors, and the answer span with its citation."""

from __future__ import annotations

import re

import pytest

from tests.conftest import DEMO_DOCS, OWNER
from webapp.adapters import question_builder, reader
from webapp.chat import prompts
from webapp.errors import DatasetError
from webapp.evaluation import qasets

pytestmark = pytest.mark.slow


def parts(services):
    """What reader rows are built from: the generator, the documents, the chat's search."""
    return services.generator, services.knowledge, services.chat.retrieve


def test_rows_hold_the_answering_passage_and_cite_it(demo):
    items = question_builder.from_documents(demo.knowledge, OWNER)
    data = reader.build(*parts(demo), OWNER, items)
    assert data.kind == "reader"
    assert len(data.examples) >= len(items) // 2
    for example in data.examples:
        system, user, assistant = example.messages
        assert system["content"] == prompts.SYSTEM_PROMPT
        assert user["content"].startswith("Sources:\n[1] ")
        assert prompts.SHORT_REQUEST in user["content"] or prompts.ANSWER_REQUEST in user["content"]
        answer, cited = re.fullmatch(r"(.+) \[(\d)\]", assistant["content"]).groups()
        passages = re.findall(r"^\[(\d)\] (.*)$", user["content"], re.M)
        cited_text = dict(passages)[cited]
        assert answer.lower() in cited_text.lower()  # the cited passage holds the answer
    positions = {re.search(r"\[(\d)\]$", e.messages[-1]["content"]).group(1) for e in data.examples}
    assert len(positions) > 1  # the answering passage is not always first


def test_rows_fit_the_training_length(demo):
    items = question_builder.from_documents(demo.knowledge, OWNER)
    data = reader.build(*parts(demo), OWNER, items)
    tokenizer = demo.generator.tokenizer
    for example in data.examples:
        ids = tokenizer.apply_chat_template(example.messages, tokenize=True, return_dict=True)
        assert len(ids["input_ids"]) <= reader.MAX_LENGTH  # the answer is never cut off


def test_training_rows_come_only_from_the_training_split(demo):
    items = qasets.split_by_document(question_builder.from_documents(demo.knowledge, OWNER))
    train = [i for i in items if i.split == "train"]
    test_questions = {i.question for i in items if i.split == "test"}
    data = reader.build(*parts(demo), OWNER, train)
    asked = {
        re.search(r"Question: (.*)\n", e.messages[1]["content"]).group(1) for e in data.examples
    }
    assert asked
    assert asked.isdisjoint(test_questions)
    assert {i.source for i in train}.isdisjoint({i.source for i in items if i.split == "test"})


def test_questions_whose_answer_is_nowhere_give_a_clear_error(demo):
    made_up = [qasets.QAItem("Who?", "Nobody at all", source=DEMO_DOCS[0].name)]
    with pytest.raises(DatasetError, match="not found"):
        reader.build(*parts(demo), OWNER, made_up)
