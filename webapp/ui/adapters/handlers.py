"""What the Adapters tab's events do, as plain functions of (services, inputs..., owner),
in the visitor's language `lang` (webapp.ui.i18n.language).

The owner and the language are resolved by the caller (webapp.ui.adapters.wiring, from the
request). A
handler returns the values of its outputs, or {name: value} keyed by the names of
`layout.AdaptersTab`'s fields; `train` yields such dicts while its job runs. Domain
errors reach the page as their plain message (`plain_errors`)."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import pydantic

from webapp.adapters import datasets, question_builder, reader
from webapp.adapters.config import DEFAULT_LR, PREFERENCE, TrainConfig
from webapp.ui.adapters.views import (
    FROM_DOCS,
    FROM_FEEDBACK,
    FROM_FILE,
    FROM_READER,
    adapter_table,
    curve_of,
    fresh_export_dir,
    loss_frame,
    outcome,
    settings_message,
    status_html,
    status_line,
)
from webapp.ui.api import plain_errors
from webapp.ui.chat.views import model_selector_update
from webapp.ui.i18n import say

POLL_S = 0.5


# -- the list of adapters: (table, picker, the chat's model selector) -------------------------
def listing(
    services, current_model: str | None, owner: str, select=None, lang: str = "en"
) -> tuple:
    """Table, picker (on `select` when given) and the chat's model selector."""
    infos = services.adapters.list(owner)
    names = [i.name for i in infos]
    pick = select if select in names else (names[0] if names else None)
    picked = gr.update(choices=names, value=pick)
    models = services.chat_models(owner)
    return adapter_table(infos, lang), picked, model_selector_update(models, current_model)


def refresh(services, current_model, owner: str, lang: str = "en") -> tuple:
    """The listing on page load."""
    return listing(services, current_model, owner, lang=lang)


# -- the training form -------------------------------------------------------------------------
def method_changed(method):
    """LoRA's row and target (kto and dpo train a LoRA too), or the soft prompts' length;
    the method's learning rate."""
    lora = method in ("lora", *PREFERENCE)
    return (
        gr.update(visible=lora),
        gr.update(visible=lora),
        gr.update(visible=not lora),
        gr.update(placeholder=f"{DEFAULT_LR[method]:g}"),
    )


def learning_rate(text: str | None, lang: str = "en") -> float | None:
    text = (text or "").strip()
    try:
        return float(text) if text else None
    except ValueError as exc:
        raise gr.Error(say(lang, "not_a_learning_rate", text=text)) from exc


def train_config(values: dict, lang: str = "en") -> TrainConfig:
    """A validated TrainConfig; blank fields take their defaults (learning rate: the method's)."""
    values = {**values, "learning_rate": learning_rate(values.get("learning_rate"), lang)}
    values = {k: v for k, v in values.items() if v is not None and v != ""}
    values["name"] = str(values.get("name") or "").strip()
    try:
        return TrainConfig(**values)
    except pydantic.ValidationError as exc:
        raise gr.Error(settings_message(exc, lang)) from exc


def source_changed(source, method):
    """The file box for a file; "My feedback" trains from preferences (KTO unless DPO)."""
    from_feedback = source == FROM_FEEDBACK and method not in PREFERENCE
    method_update = gr.update(value="kto") if from_feedback else gr.skip()
    return gr.update(visible=source == FROM_FILE), method_update


def training_data(
    services, source: str, path: str | None, owner: str, lang: str = "en", method: str = "lora"
):
    if source == FROM_FEEDBACK:
        return feedback_data(services, owner, method, lang)
    if method in PREFERENCE and source != FROM_FILE:
        raise gr.Error(say(lang, "preference_needs_rows"))
    if source == FROM_DOCS:
        return datasets.from_documents(services.knowledge, owner)
    if source == FROM_READER:
        questions = question_builder.from_documents(services.knowledge, owner)
        parts = services.generator, services.knowledge, services.chat.retrieve
        return reader.build(*parts, owner, questions, name="reader questions")
    if not path:
        raise gr.Error(say(lang, "add_training_file"))
    kind = method if method in PREFERENCE else "supervised"
    return datasets.load_file(Path(path), Path(path).name, kind=kind)


def feedback_data(services, owner: str, method: str, lang: str = "en"):
    """The owner's chat feedback as KTO or DPO rows ("Train from my feedback")."""
    if method not in PREFERENCE:
        raise gr.Error(say(lang, "feedback_needs_preference"))
    rows = services.feedback.export(owner, method)
    if len(rows) < (2 if method == "kto" else 1):
        raise gr.Error(say(lang, "no_feedback_kto" if method == "kto" else "no_feedback_dpo"))
    return datasets.from_preference_rows(rows, method, "my feedback")


# -- training ----------------------------------------------------------------------------------
@plain_errors
def start(services, values: dict, source: str, path: str | None, owner: str, lang: str = "en"):
    """(config, job): the form's training run, submitted as a background job."""
    config = train_config(values, lang)
    data = training_data(services, source, path, owner, lang, config.method)
    if data.kind == "reader":  # passages plus question: longer rows than plain Q/A
        config = config.model_copy(update={"max_length": reader.MAX_LENGTH})
    return config, services.training.submit(owner, config, data)


def watching(services, job, lang: str = "en"):
    """Yields (status html, curve or None when unchanged) until the job has finished."""
    points = -1
    while not job.finished:
        now = len(job.status.train_loss) + len(job.status.val_loss)
        curve = curve_of(job) if now != points else None
        points = now
        line = status_line(job, services.training.position(job), lang)
        yield status_html(line, job.status.fraction), curve
        time.sleep(POLL_S)


def train(
    services,
    values: dict,
    source: str,
    path: str | None,
    current_model,
    owner: str,
    lang: str = "en",
):
    """`values`: {TrainConfig field: value} of the form. Starts the run, then its progress
    while it runs, then how it ended with the list of adapters."""
    config, job = start(services, values, source, path, owner, lang)
    legend = ["train", "validation"] if config.validation_fraction else ["train"]
    yield {
        "job_id": job.id,
        "train": gr.update(visible=False),
        "cancel": gr.update(visible=True, interactive=True),
        "status": status_html(say(lang, "starting"), 0.0),
        "plot": gr.update(value=loss_frame([], []), colors_in_legend=legend),
    }
    for html_status, curve in watching(services, job, lang):
        update = {"status": html_status}
        if curve is not None:
            update["plot"] = curve
        yield update
    yield finished(services, job, current_model, owner, lang)


def finished(services, job, current_model, owner: str, lang: str = "en") -> dict:
    state, text = outcome(job, lang)
    (gr.Info if state == "done" else gr.Warning)(text)
    table, picked, model = listing(services, current_model, owner, job.config.name, lang)
    fraction = 1.0 if state == "done" else None
    return {
        "job_id": None,
        "train": gr.update(visible=True),
        "cancel": gr.update(visible=False),
        "status": status_html(text, fraction, state),
        "plot": curve_of(job),
        "table": table,
        "picked": picked,
        "chat_model": model,
    }


@plain_errors
def cancel(services, current_job, owner: str, lang: str = "en"):
    if not current_job:
        return gr.update(visible=False)
    services.training.cancel(owner, current_job)
    gr.Info(say(lang, "stopping_training"))
    return gr.update(interactive=False)


# -- the adapters: delete, export, import --------------------------------------------------------
@plain_errors
def remove(services, name, current_model, owner: str, lang: str = "en") -> tuple:
    """The listing without the adapter, and the exported file hidden."""
    if not name:
        raise gr.Error(say(lang, "choose_adapter_to_delete"))
    services.adapters.delete(owner, name)
    gr.Info(say(lang, "deleted_adapter", name=name))
    hidden = gr.update(visible=False, value=None)
    return *listing(services, current_model, owner, lang=lang), hidden


@plain_errors
def export(services, name, owner: str, lang: str = "en"):
    if not name:
        raise gr.Error(say(lang, "choose_adapter_to_export"))
    path = services.adapters.export_zip(owner, name, fresh_export_dir())
    return gr.update(value=str(path), visible=True)


@plain_errors
def import_zip(services, path, current_model, owner: str, lang: str = "en") -> tuple:
    if not path:
        return gr.skip(), gr.skip(), gr.skip()
    info = services.adapters.import_zip(owner, Path(path))
    gr.Info(say(lang, "imported_adapter", name=info.name))
    return listing(services, current_model, owner, info.name, lang)
