"""Reader adapters: training rows are RAG prompts as the chat builds them, holding the
passage that answers among distractors, and the answer span with its citation."""

from __future__ import annotations

import re

import pytest

from tests.test_eval import DEMO_DOCS, OWNER
from webapp.adapters import reader
from webapp.chat import prompts
from webapp.errors import DatasetError
from webapp.evaluation import builder, qasets

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def indexed(shared_services, model_cache, tmp_path_factory):
    from webapp.config import Settings
    from webapp.services import Services

    settings = Settings(storage_dir=tmp_path_factory.mktemp("reader"), models_dir=model_cache)
    services = Services(settings, models_from=shared_services)
    for path in DEMO_DOCS:
        assert services.knowledge.ingest(OWNER, path, path.name).ok
    return services


def test_rows_hold_the_answering_passage_and_cite_it(indexed):
    items = builder.from_documents(indexed.knowledge, OWNER)
    data = reader.build(indexed, OWNER, items)
    assert data.kind == "reader" and len(data.examples) >= len(items) // 2
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


def test_rows_fit_the_training_length(indexed):
    items = builder.from_documents(indexed.knowledge, OWNER)
    data = reader.build(indexed, OWNER, items)
    tokenizer = indexed.generator.tokenizer
    for example in data.examples:
        ids = tokenizer.apply_chat_template(example.messages, tokenize=True, return_dict=True)
        assert len(ids["input_ids"]) <= reader.MAX_LENGTH  # the answer is never cut off


def test_training_rows_come_only_from_the_training_split(indexed):
    items = qasets.split_by_document(builder.from_documents(indexed.knowledge, OWNER))
    train = [i for i in items if i.split == "train"]
    test_questions = {i.question for i in items if i.split == "test"}
    data = reader.build(indexed, OWNER, train)
    asked = {
        re.search(r"Question: (.*)\n", e.messages[1]["content"]).group(1) for e in data.examples
    }
    assert asked and asked.isdisjoint(test_questions)
    assert {i.source for i in train}.isdisjoint({i.source for i in items if i.split == "test"})


def test_questions_whose_answer_is_nowhere_give_a_clear_error(indexed):
    made_up = [qasets.QAItem("Who?", "Nobody at all", source=DEMO_DOCS[0].name)]
    with pytest.raises(DatasetError, match="not found"):
        reader.build(indexed, OWNER, made_up)
