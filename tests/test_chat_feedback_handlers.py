"""👍/👎 in the Chat tab, through the real handlers on real services: a thumb stores the
rated turn's question, answer and sources for its owner only; rating again changes it,
taking the thumb back forgets it; a better answer goes with the last 👎 and makes a DPO
pair; the Chatbot's like event is wired."""

from __future__ import annotations

import gradio as gr
import pytest

from tests.conftest import OWNER
from webapp.ui.chat import feedback
from webapp.ui.chat import handlers as chat

pytestmark = pytest.mark.slow


@pytest.fixture
def tower(services, tmp_path):
    doc = tmp_path / "tower.md"
    doc.write_text("# The Zorblax tower\nThe Zorblax tower is 412 meters tall.\n")
    assert services.knowledge.ingest(OWNER, doc, doc.name).ok
    return services


def ask(services, question, shown=(), turns=(), answers=(), lang="en"):
    """One question answered to the end: (shown, turns, answers) after it."""
    options = chat.chat_options(True, 0.0, 24, 4, "Base model", [], [])
    stream = chat.respond(
        services, question, list(shown), list(turns), options, OWNER, lang, answers=list(answers)
    )
    *_, (_, shown, turns, _, _, answers) = stream
    return shown, turns, answers


def test_a_thumb_stores_the_rated_turn_for_its_owner_only(tower, capsys):
    shown, turns, answers = ask(tower, "How tall is the Zorblax tower?")
    [turn] = answers
    assert turn["index"] == 1  # the answer's message, after the question's
    answers, disliked, row = feedback.rate(tower, answers, 1, False, None, OWNER)
    [stored] = tower.feedback.list(OWNER)
    assert stored.question == "How tall is the Zorblax tower?"
    assert stored.answer == turns[1]["content"]  # the plain answer, not the page's HTML
    assert stored.rating == "down"
    assert [s["file"] for s in stored.sources] == ["tower.md"]
    assert "412 meters" in stored.sources[0]["text"]
    assert stored.model  # the base model that answered
    assert (disliked, row["visible"]) == (stored.id, True)
    assert (
        "Saved your thumbs-down for this answer." in capsys.readouterr().out
    )  # gr.Info, outside a page
    assert tower.feedback.list("someone-else") == []

    assert feedback.better_answer(tower, " It is 412 meters tall [1]. ", disliked, OWNER) == ""
    [pair] = tower.feedback.export(OWNER, "dpo")
    assert pair["chosen"][0]["content"] == "It is 412 meters tall [1]."
    assert pair["rejected"][0]["content"] == stored.answer
    assert "[1] " in pair["prompt"][-1]["content"]  # with the passages the answer used
    assert tower.feedback.export("someone-else", "dpo") == []

    answers, disliked, row = feedback.rate(tower, answers, 1, True, disliked, OWNER)
    [again] = tower.feedback.list(OWNER)  # rated again: the same record, changed
    assert (again.id, again.rating) == (stored.id, "up")
    assert (disliked, row["visible"]) == (None, False)
    answers, _, _ = feedback.rate(tower, answers, 1, "", None, OWNER)  # the thumb taken back
    assert tower.feedback.list(OWNER) == []
    with pytest.raises(gr.Error, match="Give an answer a thumbs-down first"):
        feedback.better_answer(tower, "Better.", None, OWNER)


def test_each_turn_rates_its_own_answer_in_the_visitor_s_language(tower, capsys):
    shown, turns, answers = ask(tower, "How tall is the Zorblax tower?")
    shown, turns, answers = ask(tower, "Who built it?", shown, turns, answers)
    second = answers[-1]["index"]
    assert second == len(shown) - (2 if shown[-1].get("metadata") else 1)
    # a thumb on the second answer's sources message rates the second answer
    feedback.rate(tower, answers, len(shown) - 1, True, None, OWNER, "zh-CN")
    [stored] = tower.feedback.list(OWNER)
    assert stored.question == "Who built it?"
    assert stored.answer == turns[3]["content"]
    assert "已为这个回答保存你的赞" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="can no longer be rated"):  # a reloaded page
        _, disliked, _ = feedback.rate(tower, [], 1, False, None, OWNER)
    assert disliked is None
    assert len(tower.feedback.list(OWNER)) == 1


def test_the_chatbot_s_thumbs_are_wired(services):
    from webapp.ui.chat import build_chat_tab

    with gr.Blocks() as page:
        build_chat_tab(services)
    config = page.get_config_file()
    chatbots = [c for c in config["components"] if c["type"] == "chatbot"]
    assert chatbots[0]["props"]["feedback_options"] == ["Like", "Dislike"]
    likes = [d for d in config["dependencies"] if any(t[1] == "like" for t in d["targets"])]
    assert len(likes) == 1
