"""The chat's feedback store on real files: per owner, never shared; a corrupt line loses
no other record; the exports have TRL's shapes (KTO: every rated answer, labelled; DPO:
only a 👎 answer with a better answer); "Delete all my data" removes it."""

from __future__ import annotations

import json
import logging

import pytest

from webapp.chat.feedback import Feedback, FeedbackStore
from webapp.errors import InvalidOption

SOURCES = [{"file": "tower.md", "page": 1, "text": "The Zorblax tower is  412 meters tall."}]


@pytest.fixture
def store(tmp_path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "feedback")


def rated(store, owner="alice") -> list[Feedback]:
    return [
        store.add(owner, Feedback("How tall is it?", "412 m [1].", "up", SOURCES, "m", None)),
        store.add(owner, Feedback("Who built it?", "Nobody.", "down", better="Zorblax Inc.")),
        store.add(owner, Feedback("When?", "Yesterday.", "down")),
    ]


def test_one_owner_s_feedback_is_never_another_s(store):
    rated(store, "alice")
    assert len(store.list("alice")) == 3
    assert store.list("bob") == []
    assert store.export("bob", "kto") == []
    assert store.path("alice") != store.path("bob")
    assert "alice" not in str(store.path("alice"))  # the owner key, never the raw name


def test_records_keep_question_answer_sources_and_rating(store):
    first, *_ = rated(store)
    [again, *_] = store.list("alice")
    assert again == first
    assert again.sources == SOURCES
    assert (again.model, again.adapter, again.rating, again.better) == ("m", None, "up", None)
    with pytest.raises(InvalidOption):
        Feedback("q", "a", "sideways")  # type: ignore[arg-type]


def test_a_corrupt_line_is_skipped_and_loses_no_other_record(store, caplog):
    rated(store)
    path = store.path("alice")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", lines[1], '{"rating": "up"'] + lines[2:]))
    with caplog.at_level(logging.WARNING):
        kept = store.list("alice")
    assert [f.question for f in kept] == ["How tall is it?", "Who built it?", "When?"]
    assert "skipped unreadable line 2" in caplog.text
    store.add("alice", Feedback("More?", "Yes.", "up"))  # appending after a torn line
    assert len(store.list("alice")) == 4


def test_kto_exports_every_rated_answer_with_its_label(store):
    rated(store)
    rows = store.export("alice", "kto")
    assert [r["label"] for r in rows] == [True, False, False]
    assert all(set(r) == {"prompt", "completion", "label"} for r in rows)
    assert rows[0]["completion"] == [{"role": "assistant", "content": "412 m [1]."}]
    system, user = rows[0]["prompt"]
    assert (system["role"], user["role"]) == ("system", "user")
    # the answer used RAG: its sources are numbered in the prompt, as the chat did
    assert "[1] The Zorblax tower is 412 meters tall." in user["content"]
    assert "Question: How tall is it?" in user["content"]
    assert rows[1]["prompt"][-1] == {"role": "user", "content": "Who built it?"}


def test_dpo_exports_only_a_thumbs_down_with_a_better_answer(store):
    rated(store)
    [row] = store.export("alice", "dpo")
    assert set(row) == {"prompt", "chosen", "rejected"}
    assert row["chosen"] == [{"role": "assistant", "content": "Zorblax Inc."}]
    assert row["rejected"] == [{"role": "assistant", "content": "Nobody."}]
    raw = store.export("alice", "raw")
    assert [r["rating"] for r in raw] == ["up", "down", "down"]
    json.dumps(raw)  # plain JSON
    with pytest.raises(InvalidOption):
        store.export("alice", "ppo")


def test_a_better_answer_and_a_taken_back_rating_rewrite_the_file(store):
    *_, last = rated(store)
    assert store.update("alice", last.id, better="  Last year.  ").better == "Last year."
    assert len(store.export("alice", "dpo")) == 2
    assert store.update("alice", "nope", better="x") is None
    assert store.remove("alice", last.id)
    assert [f.question for f in store.list("alice")] == ["How tall is it?", "Who built it?"]
    assert not list(store.path("alice").parent.glob("*.tmp"))


def test_delete_all_removes_the_owner_s_feedback_only(store):
    rated(store, "alice")
    rated(store, "bob")
    assert store.delete_all("alice") == 3
    assert store.list("alice") == []
    assert not store.path("alice").parent.exists()
    assert len(store.list("bob")) == 3
    assert store.delete_all("alice") == 0


@pytest.mark.slow
def test_the_cli_lists_and_exports_the_local_user_s_feedback(tmp_path):
    from tests.files import run_webapp

    storage = tmp_path / "store"
    rated(FeedbackStore(storage / "feedback"), "local")
    rated(FeedbackStore(storage / "feedback"), "someone-else")
    listed = run_webapp("feedback", "list", storage=storage)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3
    assert "👍  How tall is it?" in lines[0]
    assert lines[1].endswith("(with a better answer)")
    records = json.loads(run_webapp("feedback", "list", "--json", storage=storage).stdout)
    assert [r["question"] for r in records] == ["How tall is it?", "Who built it?", "When?"]
    out = tmp_path / "pairs.jsonl"
    exported = run_webapp("feedback", "export", "--kind", "dpo", "--out", str(out), storage=storage)
    assert exported.returncode == 0, exported.stderr
    assert "wrote 1 dpo rows" in exported.stderr
    [pair] = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(pair) == {"prompt", "chosen", "rejected"}
    mixed = run_webapp(
        "train", "--method", "kto", "--data", str(out), "--name", "x", storage=storage
    )
    assert mixed.returncode == 2  # DPO pairs are not KTO rows: refused before a model loads
    assert "a kto row needs prompt, completion, label" in mixed.stderr
    kto = run_webapp("feedback", "export", storage=storage)  # kto to stdout by default
    assert [json.loads(line)["label"] for line in kto.stdout.splitlines()] == [True, False, False]
    gone = run_webapp("delete-data", "--yes", storage=storage)
    assert "3 feedback" in gone.stdout
    empty = run_webapp("feedback", "list", storage=storage)
    assert empty.stdout.startswith("No feedback yet.")
    assert len(FeedbackStore(storage / "feedback").list("someone-else")) == 3


def test_train_from_my_feedback_says_what_is_missing_before_a_run(settings):
    """The Adapters tab's "My feedback" source: KTO or DPO only, and enough ratings."""
    import gradio as gr

    from tests.test_adapters_handlers import form, refused
    from webapp.services import Services
    from webapp.ui.adapters import handlers, views

    services = Services(settings)
    mine = views.FROM_FEEDBACK
    assert refused(services, form(method="lora"), mine) == (
        "To train from your feedback, choose the method KTO or DPO."
    )
    assert refused(services, form(method="kto"), mine).startswith("Rate at least two answers")
    rated(services.feedback, "local")
    rated(services.feedback, "someone-else")
    assert refused(services, form(method="dpo"), views.FROM_DOCS).startswith("KTO and DPO train")
    services.feedback.delete_all("local")
    services.feedback.add("local", Feedback("q", "a", "down"))
    assert refused(services, form(method="dpo"), mine).startswith("No pairs yet")
    assert services.training.active() == []
    file_box, method = handlers.source_changed(mine, "lora")
    assert (file_box["visible"], method["value"]) == (False, "kto")
    assert handlers.source_changed(mine, "dpo")[1] == gr.skip()
