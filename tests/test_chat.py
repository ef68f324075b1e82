"""Answers from the bundled generator over real retrieval: facts, citations, budgets, stop."""

from __future__ import annotations

import threading

import pytest

from tests import SOURCE_KEYS
from webapp.chat import prompts
from webapp.chat.service import ChatOptions, is_follow_up
from webapp.models.generator import GenerationOptions

OWNER = "local"


@pytest.fixture
def indexed(services, tmp_path):
    tower = tmp_path / "tower.md"
    tower.write_text(
        "# The Zorblax tower\nThe Zorblax tower is 412 meters tall. It was built in 1999 by "
        "the architect Mira Quell in the city of Vantor.\n"
    )
    soup = tmp_path / "food.txt"
    soup.write_text("The traditional dish of the island of Kelloway is blue soup, made from kelp.")
    services.knowledge.ingest_files(OWNER, [(tower, tower.name), (soup, soup.name)])
    return services


@pytest.mark.slow
def test_answer_contains_the_fact_and_cites_its_file(indexed):
    answer = indexed.chat.ask(OWNER, "How tall is the Zorblax tower?")
    assert "412" in answer.answer
    assert "[1]" in answer.answer
    assert answer.sources[0].file == "tower.md"
    assert answer.sources[0].score > 0.5
    data = answer.as_dict()
    assert set(data) == {"answer", "sources", "rag", "adapter", "model", "reader", "grounded"}
    assert data["grounded"] is True
    assert set(data["sources"][0]) == SOURCE_KEYS


@pytest.mark.slow
def test_stream_yields_sources_first_then_growing_text(indexed):
    snapshots = []
    for answer in indexed.chat.stream(OWNER, "What is blue soup made from?", [], ChatOptions()):
        snapshots.append((len(answer.answer), len(answer.sources), answer.done))
    first_length, first_sources, first_done = snapshots[0]
    assert first_length == 0
    assert first_sources >= 1
    assert not first_done
    assert len(snapshots) > 3
    assert snapshots[-1][2]
    lengths = [n for n, _, _ in snapshots[:-1]]
    assert lengths == sorted(lengths)


@pytest.mark.slow
def test_nothing_relevant_says_so_instead_of_inventing(indexed):
    answer = indexed.chat.ask(OWNER, "What is the exchange rate of the Mongolian tugrik?")
    assert answer.answer == prompts.NOT_FOUND
    assert answer.sources == []


@pytest.mark.slow
def test_empty_knowledge_base_explains_what_to_do(services):
    answer = services.chat.ask(OWNER, "Anything?")
    assert answer.answer == prompts.EMPTY_KB


@pytest.mark.slow
def test_model_alone_without_retrieval(indexed):
    answer = indexed.chat.ask(
        OWNER, "Say hello.", options=ChatOptions(use_rag=False, max_new_tokens=20)
    )
    assert answer.rag is False
    assert answer.sources == []
    assert answer.answer


@pytest.mark.slow
def test_follow_up_is_searched_with_the_previous_question(indexed):
    history = [
        {"role": "user", "content": "Who built the Zorblax tower?"},
        {"role": "assistant", "content": "Mira Quell built it [1]."},
    ]
    answer = indexed.chat.ask(OWNER, "and how tall is it?", history)
    assert "Zorblax" in answer.search_query
    assert answer.sources
    assert answer.sources[0].file == "tower.md"
    assert "412" in answer.answer


def test_follow_up_detection():
    assert is_follow_up("and how tall is it?")
    assert is_follow_up("what about Paris")
    assert not is_follow_up("How tall is the Zorblax tower in Vantor?")


@pytest.mark.slow
def test_prompt_keeps_the_question_and_fits_the_budget(generator):
    from webapp.retrieval.retriever import Source

    sources = [Source(f"f{i}.txt", None, 0.9, "filler text " * 400, str(i)) for i in range(6)]
    question = "What colour is the tiny unique marker QX-17?"
    messages, used = prompts.rag_messages(question, sources, generator, budget=700)
    assert generator.prompt_tokens(messages) <= 700
    assert question in messages[-1]["content"]
    assert 1 <= len(used) < len(sources)
    huge = "word " * 5000 + question
    messages, _ = prompts.rag_messages(huge, sources, generator, budget=700)
    assert "QX-17" in messages[-1]["content"]  # the end of the question, where the ask is


@pytest.mark.slow
def test_stop_event_ends_generation_early(generator):
    stop = threading.Event()
    pieces = []
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    for piece in generator.stream(messages, GenerationOptions(max_new_tokens=200), stop):
        pieces.append(piece)
        if len(pieces) == 3:
            stop.set()
    assert 3 <= len(pieces) < 10
