"""Preference training with TRL (webapp.adapters.preference): four made-up DPO pairs train
a LoRA on the base model in well under a minute, saved and listed like any adapter and
answering in the chat; the chat's own 👍/👎 train a KTO LoRA through the background jobs;
rows of the wrong shape are refused in plain words before a model loads."""

from __future__ import annotations

import time

import pytest

from tests.conftest import OWNER
from tests.files import write_jsonl
from webapp.adapters import datasets
from webapp.adapters.config import TrainConfig
from webapp.adapters.training import train
from webapp.chat.feedback import Feedback
from webapp.chat.service import ChatOptions
from webapp.errors import DatasetError

pytestmark = pytest.mark.slow
# Small enough for a shared CPU: LoRA on the attention of the last 4 layers only.
TINY = dict(max_length=96, rank=4, target="attention", last_layers=4)

PAIRS = [
    {
        "prompt": "What colour is the Zorblax tower?",
        "chosen": "The Zorblax tower is teal.",
        "rejected": "I do not know.",
    },
    {
        "prompt": "How tall is the Zorblax tower?",
        "chosen": "It is 412 meters tall.",
        "rejected": "It is very small.",
    },
    {
        "prompt": [{"role": "user", "content": "Who built the Zorblax tower?"}],
        "chosen": [{"role": "assistant", "content": "Zorblax Inc. built it."}],
        "rejected": [{"role": "assistant", "content": "Nobody built it."}],
    },
    {"prompt": "When did it open?", "chosen": "It opened in 1999.", "rejected": "Never."},
]


def test_four_dpo_pairs_train_a_listed_lora_in_well_under_a_minute(services, tmp_path):
    data = datasets.load_file(write_jsonl(tmp_path / "pairs.jsonl", PAIRS), kind="dpo")
    assert data.kind == "dpo"
    assert data.examples[0].preference["prompt"][0]["role"] == "system"  # as the chat asks
    config = TrainConfig(name="better", method="dpo", epochs=1, **TINY)
    started = time.perf_counter()
    metadata = train(
        config,
        data,
        services.base_model_path(),
        services.settings.llm_model,
        services.adapters.folder(OWNER, "better"),
    )
    assert time.perf_counter() - started < 60
    assert (metadata["method"], metadata["objective"]) == ("lora", "dpo")
    assert metadata["hyperparameters"]["method"] == "dpo"
    assert len(metadata["train_loss_curve"]) == 4  # one step per pair, batch size 1
    assert metadata["dataset"]["rows"] == 4
    [info] = services.adapters.list(OWNER)
    assert (info.name, info.method) == ("better", "lora")
    assert services.chat_models(OWNER) == ["better"]  # selectable in the chat
    options = ChatOptions(use_rag=False, max_new_tokens=8, adapter="better")
    answer = services.chat.ask(OWNER, "What colour is the Zorblax tower?", options=options)
    assert answer.adapter == "better"
    assert answer.answer


def test_the_chat_s_thumbs_train_a_kto_lora_in_the_background(services, tmp_path):
    store = services.feedback
    for question, answer, rating in [
        ("How tall is the tower?", "412 meters.", "up"),
        ("Who built the tower?", "A cat.", "down"),
        ("When did it open?", "In 1999.", "up"),
    ]:
        store.add(OWNER, Feedback(question, answer, rating))
    rows = store.export(OWNER, "kto")
    data = datasets.load_file(write_jsonl(tmp_path / "rated.jsonl", rows), kind="kto")
    config = TrainConfig(name="liked", method="kto", epochs=1, **TINY)
    job = services.training.wait(services.training.submit(OWNER, config, data), timeout=120)
    assert job.status.state == "done", job.status.message
    assert job.status.step == job.status.total_steps == 2  # 3 rows in batches of 2
    assert job.status.train_loss
    assert [a.name for a in services.adapters.list(OWNER)] == ["liked"]
    assert job.metadata["objective"] == "kto"


def test_train_from_my_feedback_in_the_adapters_tab(services):
    from tests.test_adapters_handlers import form
    from webapp.ui.adapters import handlers, views

    services.feedback.add(OWNER, Feedback("How tall is it?", "Tiny.", "down", better="412 m."))
    services.feedback.add("someone-else", Feedback("q", "a", "down", better="b"))
    values = form(name="mine", method="dpo", epochs=1, rank=4, target="attention")
    *_, last = handlers.train(services, values, views.FROM_FEEDBACK, None, None, OWNER)
    assert [row[0] for row in last["table"]["data"]] == ["mine"]
    [info] = services.adapters.list(OWNER)
    assert info.metadata["objective"] == "dpo"
    assert info.metadata["dataset"] | {"sha256": None} == {
        "name": "my feedback",
        "rows": 1,  # the owner's one pair, never another's
        "sha256": None,
        "bytes": info.metadata["dataset"]["bytes"],
        "kind": "dpo",
    }


def test_rows_of_the_wrong_shape_are_refused_in_plain_words(services, tmp_path):
    wrong = write_jsonl(tmp_path / "wrong.jsonl", [{"prompt": "q", "chosen": "a"}])
    with pytest.raises(DatasetError, match="line 1: a dpo row needs prompt, chosen, rejected"):
        datasets.load_file(wrong, kind="dpo")
    label = write_jsonl(tmp_path / "label.jsonl", [{"prompt": "q", "completion": "a", "label": 2}])
    with pytest.raises(DatasetError, match="'label' must be true or false"):
        datasets.load_file(label, kind="kto")
    answers = datasets.load_file(
        write_jsonl(tmp_path / "qa.jsonl", [{"question": "q", "answer": "a"}])
    )
    config = TrainConfig(name="mixed", method="dpo")
    with pytest.raises(DatasetError, match="DPO trains on dpo rows"):
        train(config, answers, services.base_model_path(), "m", tmp_path / "out")
    assert not (tmp_path / "out").exists()
