"""The Evaluate tab's handlers, called as its events call them, on real services: what a
user sees after uploading, splitting, saving, loading and deleting a question set, and the
plain messages when a name or a configuration is wrong."""

from __future__ import annotations

import gradio as gr
import pytest

from tests.conftest import DEMO, OWNER
from webapp.ui.evaluate import handlers


def shown_rows(frame) -> list[dict]:
    return frame.to_dict("records")


@pytest.fixture
def uploaded():
    """(table, set name, summary) after uploading the demo question set."""
    return handlers.uploaded(str(DEMO / "questions.jsonl"))


def test_an_uploaded_question_set_shows_its_rows_and_a_summary(uploaded):
    table, name, summary = uploaded
    rows = shown_rows(table)
    assert len(rows) == 13
    assert rows[0]["question"] == "Who founded the Harbor Lights Cooperative?"
    assert rows[0]["answer"] == "Marta Lindqvist"
    assert rows[0]["source"] == "harbor-lights-handbook.md"
    assert name == "questions"
    assert summary == "13 question(s) from 2 document(s)."


def test_split_save_load_and_delete_a_set(services, uploaded):
    table, _, _ = uploaded
    split, summary = handlers.split_table(table)
    by_document = {}
    for row in shown_rows(split):
        by_document.setdefault(row["source"], set()).add(row["split"])
    # Each document's questions on one side, both sides used (the sourceless one: its own).
    assert all(len(sides) == 1 for sides in by_document.values())
    assert set().union(*by_document.values()) == {"train", "test"}
    assert "for training" in summary
    assert "for testing" in summary

    dropdown = handlers.saved_set(services, "harbor", split, OWNER)
    assert (dropdown["choices"], dropdown["value"]) == (["harbor"], "harbor")
    loaded, name, loaded_summary = handlers.picked_set(services, "harbor", OWNER)
    assert shown_rows(loaded) == shown_rows(split)
    assert (name, loaded_summary) == ("harbor", summary)
    with pytest.raises(gr.Error) as other:  # another owner's sets are not there
        handlers.picked_set(services, "harbor", "someone-else")
    assert other.value.message == "There is no saved question set named 'harbor'."

    assert handlers.removed_set(services, "harbor", OWNER)["choices"] == []
    with pytest.raises(gr.Error) as gone:
        handlers.picked_set(services, "harbor", OWNER)
    assert "no saved question set" in gone.value.message


def test_an_invalid_set_name_gives_the_plain_message_and_saves_nothing(services, uploaded):
    table, _, _ = uploaded
    with pytest.raises(gr.Error) as refused:
        handlers.saved_set(services, "my set!", table, OWNER)
    assert refused.value.message.startswith("A question set name uses letters, digits")
    assert services.qasets.list(OWNER) == []
    with pytest.raises(gr.Error) as empty:
        handlers.saved_set(services, "harbor", None, OWNER)
    assert empty.value.message.startswith("There are no questions yet")


def test_an_unknown_configuration_is_refused_before_any_run_starts(services, uploaded):
    table, name, _ = uploaded
    run = handlers.evaluate(services, table, name, ["rag", "adapter:"], "all", OWNER)
    with pytest.raises(gr.Error) as refused:
        next(run)
    assert refused.value.message.startswith("Unknown configuration 'adapter:'")
    with pytest.raises(gr.Error) as none:
        next(handlers.evaluate(services, table, name, [], "all", OWNER))
    assert none.value.message == "Choose at least one configuration to evaluate."
    assert services.evals.list(OWNER) == []
