"""The Adapters tab's handlers, called as its events call them, on real services: the plain
messages for wrong settings and training data (before any run starts), an adapter imported,
listed, exported and deleted, and what the progress display says about a training run."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import gradio as gr
import pytest

from tests.conftest import OWNER
from webapp.adapters.config import METADATA, TrainConfig
from webapp.adapters.jobs import Job
from webapp.adapters.training import TrainStatus
from webapp.ui.adapters import handlers, layout, views
from webapp.ui.chat.views import BASE_CHOICE, BASE_MODEL

FINISHED = "2025-03-14T09:26:53+00:00"


def form(**changes) -> dict:
    """The training form's values as the page sends them: its defaults, a name, no rate."""
    values = {field: layout.DEFAULTS[field] for field in views.FIELDS}
    return {**values, "name": "harbor", "learning_rate": "", **changes}


def refused(services, values: dict, source: str = views.FROM_FILE, path=None) -> str:
    """The message a Train click with these values shows; fails if a run would start."""
    with pytest.raises(gr.Error) as error:
        next(handlers.train(services, values, source, path, None, OWNER))
    return error.value.message


def adapter_zip(folder: Path, base_model: str, name: str = "harbor") -> Path:
    """A real (untrained, so tiny) PEFT LoRA export: config, safetensors and metadata."""
    import torch
    from peft import LoraConfig
    from safetensors.torch import save_file

    files = folder / name
    config = LoraConfig(r=4, target_modules=["q_proj"], base_model_name_or_path=base_model)
    config.save_pretrained(str(files))
    weight = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
    save_file({weight: torch.zeros(4, 8)}, str(files / "adapter_model.safetensors"))
    metadata = {
        "name": name,
        "base_model": base_model,
        "method": "lora",
        "dataset": {"name": "harbor.jsonl", "rows": 12},
        "hyperparameters": {"epochs": 3},
        "final_train_loss": 1.234567,
        "final_val_loss": None,
        "tokens_per_s": 812.4,
        "finished": FINISHED,
    }
    (files / METADATA).write_text(json.dumps(metadata), encoding="utf-8")
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(files.iterdir()):
            z.write(f, f"{name}/{f.name}")
    return archive


@pytest.fixture
def local(settings):
    """Services with no model loaded: deleting an adapter then has nothing to unload."""
    from webapp.services import Services

    return Services(settings)


def test_wrong_settings_and_data_are_refused_in_plain_words_before_a_run(local, tmp_path):
    assert refused(local, form(learning_rate="fast")) == (
        "Learning rate: “fast” is not a number; try 0.001, or leave it blank."
    )
    assert refused(local, form(name="my adapter!", epochs=0)) == (
        "Please check the settings. Adapter name: use 1-48 letters, digits, '-' or '_', "
        "starting with a letter or digit; Epochs: input should be greater than or equal to 1."
    )
    assert refused(local, form()) == (
        "Add a training file (.jsonl or .csv), or choose My documents."
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Who founded it?"}\n', encoding="utf-8")
    assert refused(local, form(), path=str(bad)) == (  # a domain error: its plain message
        "1 malformed row(s): line 1: 'answer' is missing or empty."
    )
    assert local.training.active() == []
    assert local.adapters.list(OWNER) == []


def test_import_list_export_and_delete_an_adapter(local, tmp_path):
    table, picked, models = handlers.refresh(local, None, OWNER)
    assert (table["data"], picked["choices"], picked["value"]) == ([], [], None)
    assert table["headers"][:2] == ["Name", "Method"]
    assert (models["choices"], models["value"]) == ([BASE_CHOICE], BASE_MODEL)
    assert handlers.import_zip(local, None, None, OWNER) == (gr.skip(),) * 3

    archive = adapter_zip(tmp_path / "export", local.settings.llm_model)
    table, picked, models = handlers.import_zip(local, str(archive), BASE_MODEL, OWNER)
    assert table["data"] == [
        ["harbor", "LoRA", "harbor.jsonl", 12, 3, 1.2346, "–", 812, "2025-03-14 09:26"]
    ]
    assert (picked["choices"], picked["value"]) == (["harbor"], "harbor")
    assert (models["choices"], models["value"]) == ([BASE_CHOICE, "harbor"], BASE_MODEL)
    with pytest.raises(gr.Error) as twice:  # a domain error reaches the page in plain words
        handlers.import_zip(local, str(archive), BASE_MODEL, OWNER)
    assert twice.value.message.startswith("An adapter named 'harbor' already exists")
    # Training under a taken name is refused by the queue, before any run starts.
    data = tmp_path / "facts.jsonl"
    data.write_text('{"question": "Who?", "answer": "Marta."}\n', encoding="utf-8")
    assert refused(local, form(), path=str(data)).startswith("An adapter named 'harbor'")
    assert local.training.active() == []

    download = handlers.export(local, "harbor", OWNER)
    assert download["visible"] is True
    with zipfile.ZipFile(download["value"]) as z:
        assert sorted(z.namelist()) == [
            f"harbor/{name}"
            for name in ("adapter_config.json", "adapter_model.safetensors", METADATA)
        ]
    with pytest.raises(gr.Error) as other:  # another owner's adapters are not there
        handlers.export(local, "harbor", "someone-else")
    assert other.value.message == "There is no adapter named 'harbor'."
    with pytest.raises(gr.Error) as none:
        handlers.remove(local, "", BASE_MODEL, OWNER)
    assert none.value.message == "Choose an adapter to delete first."

    table, picked, models, hidden = handlers.remove(local, "harbor", "harbor", OWNER)
    assert (table["data"], picked["choices"], picked["value"]) == ([], [], None)
    assert (models["choices"], models["value"]) == ([BASE_CHOICE], BASE_MODEL)  # pick gone
    assert (hidden["visible"], hidden["value"]) == (False, None)
    assert local.adapters.list(OWNER) == []


def job_in(state: str, **status) -> Job:
    config = TrainConfig(name="harbor", epochs=2)
    return Job("job1", OWNER, config, None, TrainStatus("harbor", state, epochs=2, **status))


def test_the_status_line_follows_a_run_and_says_how_it_ended(local):
    assert views.status_line(job_in("queued"), 2) == "Waiting: 2 training run(s) ahead of this one."
    assert views.status_line(job_in("queued"), 0) == "Starting…"
    assert views.status_line(job_in("starting"), 0) == "Loading a copy of the base model…"
    training = job_in(
        "training", step=3, total_steps=8, epoch=1, train_loss=[(2, 2.5), (3, 2.25)], eta_s=41.6
    )
    line = views.status_line(training, 0)
    assert line == "step 3/8 · epoch 1/2 · loss 2.250 · about 42 s left"
    assert "<progress max='1' value='0.375'>" in views.status_html(line, training.status.fraction)

    assert handlers.cancel(local, None, OWNER) == gr.update(visible=False)  # nothing running
    with pytest.raises(gr.Error) as gone:
        handlers.cancel(local, "no-such-job", OWNER)
    assert gone.value.message == "That training run does not exist."

    stopped = job_in("cancelled", step=3, total_steps=8, train_loss=[(3, 2.25)])
    stopped.status.message = "Training was cancelled; no adapter was saved."
    with pytest.warns(UserWarning, match="Cancelled: Training was cancelled"):  # the toast
        shown = handlers.finished(local, stopped, BASE_MODEL, OWNER)
    assert "Cancelled: Training was cancelled; no adapter was saved." in shown["status"]
    assert "train-status cancelled" in shown["status"]
    assert "<progress" not in shown["status"]
    assert (shown["job_id"], shown["train"]["visible"], shown["cancel"]["visible"]) == (
        None,
        True,
        False,
    )
    assert shown["plot"]["loss"].dropna().tolist() == [2.25]
