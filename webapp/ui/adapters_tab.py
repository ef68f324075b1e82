"""The Adapters tab: teach the model your own data, watch it learn, manage what it made.

Training runs as a background job (webapp.adapters.jobs) on its own copy of the base model.
The Train event only submits the job and then polls it twice a second for the status line,
the progress bar and the loss curve; it has its own concurrency group, so the chat keeps
answering meanwhile. The job id lives in a per-session gr.State, which is all Cancel needs.
The list of adapters feeds the Chat tab's model selector, refreshed after every change.
"""

from __future__ import annotations

import html
import math
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pandas as pd
import pydantic

from webapp.adapters import datasets, reader
from webapp.adapters.config import DEFAULT_LR, TrainConfig
from webapp.errors import WebappError
from webapp.evaluation import builder
from webapp.ui.chat.views import model_selector_update
from webapp.ui.events import always_after
from webapp.ui.i18n import EN, i18n
from webapp.ui.identity import owner_of
from webapp.ui.render import short_date

POLL_S = 0.5
EXPORT_PREFIX = "docchat-export-"
EXPORT_MAX_AGE_S = 3600
FROM_FILE, FROM_DOCS, FROM_READER = "A file", "My documents", "Reader for my documents"
SOURCES = [
    (i18n("data_from_file"), FROM_FILE),
    (i18n("data_from_docs"), FROM_DOCS),
    (i18n("data_from_reader"), FROM_READER),
]
METHODS = ["lora", "prompt", "prefix"]  # labelled i18n("method_<method>")
METHOD_NAMES = {method: EN[f"method_{method}"] for method in METHODS}  # the table's: English
TARGETS = [(i18n("target_attention"), "attention"), (i18n("target_all_linear"), "all-linear")]
DEFAULTS = {name: field.default for name, field in TrainConfig.model_fields.items()}
ADAPTER_HEADERS = [
    "Name",
    "Method",
    "Data",
    "Rows",
    "Epochs",
    "Final loss",
    "Val loss",
    "Tokens/s",
    "Finished",
]
FIELDS = [  # the TrainConfig fields the form sets, labelled i18n("train_<field>")
    "name",
    "method",
    "epochs",
    "learning_rate",
    "rank",
    "alpha",
    "dropout",
    "target",
    "virtual_tokens",
    "validation_fraction",
]
LABELS = {field: EN[f"train_{field}"] for field in FIELDS}  # for error messages: English
IDLE = "<div class='train-status idle'><p>" + i18n("training_idle") + "</p></div>"
# Scoped to the status component; colours from the theme, so dark mode stays readable.
STATUS_CSS = """
.train-status p { margin: 0 0 8px; font-weight: 500; }
.train-status.idle p { color: var(--body-text-color-subdued); font-weight: 400; margin: 0; }
.train-status.failed p { color: var(--error-text-color); }
.train-status progress { appearance: none; width: 100%; height: 10px; border: 0;
  border-radius: 5px; overflow: hidden; background: var(--border-color-primary); }
.train-status progress::-webkit-progress-bar { background: var(--border-color-primary); }
.train-status progress::-webkit-progress-value { background: var(--color-accent); }
.train-status progress::-moz-progress-bar { background: var(--color-accent); }
"""


# -- training configuration and data -------------------------------------------------------
def plain_errors(exc: pydantic.ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = LABELS.get(str(error["loc"][0]), str(error["loc"][0])) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {message[:1].lower()}{message[1:]}")
    return "Please check the settings. " + "; ".join(parts) + "."


def learning_rate(text: str | None) -> float | None:
    text = (text or "").strip()
    try:
        return float(text) if text else None
    except ValueError as exc:
        raise gr.Error(
            f"Learning rate: “{text}” is not a number; try 0.001, or leave it blank."
        ) from exc


def train_config(values: dict) -> TrainConfig:
    """A validated TrainConfig; blank fields take their defaults (learning rate: the method's)."""
    values = {**values, "learning_rate": learning_rate(values.get("learning_rate"))}
    values = {k: v for k, v in values.items() if v is not None and v != ""}
    values["name"] = str(values.get("name") or "").strip()
    try:
        return TrainConfig(**values)
    except pydantic.ValidationError as exc:
        raise gr.Error(plain_errors(exc)) from exc


def training_data(services, owner: str, source: str, path: str | None):
    try:
        if source == FROM_DOCS:
            return datasets.from_documents(services.knowledge, owner)
        if source == FROM_READER:
            questions = builder.from_documents(services.knowledge, owner)
            return reader.build(services, owner, questions, name="reader questions")
        if not path:
            raise gr.Error("Add a training file (.jsonl or .csv), or choose My documents.")
        return datasets.load_file(Path(path), Path(path).name)
    except WebappError as exc:
        raise gr.Error(str(exc)) from exc


# -- what the progress display shows -------------------------------------------------------
def status_line(job, ahead: int) -> str:
    s = job.status
    if s.state == "queued":
        return f"Waiting: {ahead} training run(s) ahead of this one." if ahead else "Starting…"
    if s.state == "starting":
        return "Loading a copy of the base model…"
    if s.state == "saving":
        return "Saving the adapter…"
    parts = [f"step {s.step}/{s.total_steps}", f"epoch {s.epoch}/{s.epochs}"]
    if s.train_loss:
        parts.append(f"loss {s.train_loss[-1][1]:.3f}")
    if s.eta_s is not None:
        parts.append(f"about {round(s.eta_s)} s left")
    return " · ".join(parts)


def outcome(job) -> tuple[str, str]:
    """('done' | 'cancelled' | 'failed', plain words) for a finished job."""
    if job.metadata is not None:
        loss = job.metadata.get("final_train_loss")
        tail = f" Final loss {loss:.3f}." if loss is not None else ""
        return "done", (
            f"Done: adapter “{job.config.name}” is ready; pick it in the Chat tab.{tail}"
        )
    state = job.status.state if job.status.state == "cancelled" else "failed"
    default = "Training was cancelled." if state == "cancelled" else "Training failed."
    return state, f"{state.capitalize()}: {job.status.message or default}"


def status_html(text: str, fraction: float | None, state: str = "running") -> str:
    bar = f"<progress max='1' value='{fraction:.3f}'></progress>" if fraction is not None else ""
    return f"<div class='train-status {state}'><p>{html.escape(text)}</p>{bar}</div>"


def loss_frame(train: list, val: list) -> pd.DataFrame:
    # Gradio's plot fixes its colour domain when first drawn (here: before the first step), so
    # every frame names both series with an empty point that draws nothing.
    rows = [(1, math.nan, "train"), (1, math.nan, "validation")]
    rows += [(s, v, "train") for s, v in train] + [(s, v, "validation") for s, v in val]
    frame = pd.DataFrame(rows, columns=["step", "loss", "series"])
    return frame.astype({"step": "int64", "loss": "float64", "series": "str"})


def curve_of(job) -> pd.DataFrame:
    if job.metadata is not None:  # the saved curves are complete, whatever the status shows
        m = job.metadata
        return loss_frame(m.get("train_loss_curve") or [], m.get("val_loss_curve") or [])
    return loss_frame(list(job.status.train_loss), list(job.status.val_loss))


# -- the list of adapters --------------------------------------------------------------------
def dash(value, digits: int | None = None):
    """The value for a table cell: "–" when unknown, numbers rounded to `digits`."""
    if value is None:
        return "–"
    if digits is None:
        return value
    return round(value, digits) if digits else round(value)


def adapter_rows(infos) -> list[list]:
    rows = []
    for s in (info.summary() for info in infos):
        rows.append(
            [
                s["name"],
                METHOD_NAMES.get(s["method"], s["method"]),
                dash(s["dataset"]),
                dash(s["rows"]),
                dash(s["epochs"]),
                dash(s["final_train_loss"], 4),
                dash(s["final_val_loss"], 4),
                dash(s["tokens_per_s"], 0),
                short_date(s["finished"]) if s["finished"] else "–",
            ]
        )
    return rows


def fresh_export_dir() -> Path:
    """A new temp folder for one export (never storage/); old exports are swept away."""
    now = time.time()
    for old in Path(tempfile.gettempdir()).glob(EXPORT_PREFIX + "*"):
        if now - old.stat().st_mtime > EXPORT_MAX_AGE_S:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=EXPORT_PREFIX))


# -- layout ------------------------------------------------------------------------------------
def training_form() -> SimpleNamespace:
    f = SimpleNamespace()
    f.name = gr.Textbox(
        label=i18n("train_name"),
        placeholder=i18n("train_name_placeholder"),
        max_lines=1,
        info=i18n("train_name_info"),
        elem_id="adapter-name",
    )
    f.source = gr.Radio(
        SOURCES, value=FROM_FILE, label=i18n("training_data"), elem_id="data-source"
    )
    f.file = gr.File(
        label=i18n("training_file"),
        file_types=[".jsonl", ".csv", ".json"],
        type="filepath",
        height=120,
        elem_id="training-file",
    )
    gr.Markdown(i18n("training_data_hint"), elem_classes=["hint"])
    f.method = gr.Radio(
        [(i18n(f"method_{method}"), method) for method in METHODS],
        value="lora",
        label=i18n("train_method"),
        elem_id="method",
    )
    with gr.Accordion(i18n("hyperparameters"), open=False, elem_id="hyperparameters"):
        hyperparameter_fields(f)
    with gr.Row():
        f.train = gr.Button(i18n("train_button"), variant="primary", elem_id="train")
        f.cancel = gr.Button(
            i18n("cancel_button"), variant="stop", visible=False, elem_id="cancel-training"
        )
    f.fields = {  # TrainConfig field -> the component that sets it
        "name": f.name,
        "method": f.method,
        "epochs": f.epochs,
        "learning_rate": f.lr,
        "rank": f.rank,
        "alpha": f.alpha,
        "dropout": f.dropout,
        "target": f.target,
        "virtual_tokens": f.virtual_tokens,
        "validation_fraction": f.validation,
    }
    return f


def hyperparameter_fields(f: SimpleNamespace) -> None:
    with gr.Row():
        f.epochs = gr.Number(
            DEFAULTS["epochs"],
            label=i18n("train_epochs"),
            precision=0,
            info=i18n("train_epochs_info"),
            elem_id="epochs",
        )
        f.lr = gr.Textbox(
            label=i18n("train_learning_rate"),
            placeholder=f"{DEFAULT_LR['lora']:g}",
            info=i18n("train_learning_rate_info"),
            max_lines=1,
            elem_id="learning-rate",
        )
    with gr.Row(visible=True) as f.lora_row:
        f.rank = gr.Number(DEFAULTS["rank"], label=i18n("train_rank"), precision=0, min_width=100)
        f.alpha = gr.Number(
            DEFAULTS["alpha"], label=i18n("train_alpha"), precision=0, min_width=100
        )
        f.dropout = gr.Number(
            DEFAULTS["dropout"], label=i18n("train_dropout"), step=0.05, min_width=100
        )
    f.target = gr.Radio(
        TARGETS,
        value=DEFAULTS["target"],
        label=i18n("train_target"),
        visible=True,
        elem_id="lora-target",
    )
    f.virtual_tokens = gr.Number(
        DEFAULTS["virtual_tokens"],
        label=i18n("train_virtual_tokens"),
        precision=0,
        visible=False,
        info=i18n("train_virtual_tokens_info"),
    )
    f.validation = gr.Slider(
        0.0,
        0.5,
        value=DEFAULTS["validation_fraction"],
        step=0.05,
        label=i18n("train_validation_fraction"),
        info=i18n("train_validation_fraction_info"),
    )


def progress_panel() -> SimpleNamespace:
    p = SimpleNamespace()
    p.status = gr.HTML(
        IDLE,
        css_template=STATUS_CSS,
        js_on_load=None,
        container=True,
        padding=True,
        elem_id="train-status",
    )
    p.plot = gr.LinePlot(
        loss_frame([], []),
        x="step",
        y="loss",
        color="series",
        color_map={"train": "#4f46e5", "validation": "#0ea5e9"},
        label=i18n("loss_plot"),
        x_title="step",
        y_title="loss",
        color_title="",
        # Shown from the start (empty until the first step): a plot made visible in the same
        # update that brings its first data was sometimes never drawn.
        elem_id="loss-plot",
    )
    return p


def adapters_panel() -> SimpleNamespace:
    a = SimpleNamespace()
    a.table = gr.Dataframe(
        headers=ADAPTER_HEADERS,
        label=i18n("your_adapters"),
        interactive=False,
        wrap=True,
        elem_id="adapters",
    )
    with gr.Row(equal_height=True):
        a.picked = gr.Dropdown(
            label=i18n("adapter_picker"), choices=[], scale=4, elem_id="picked-adapter"
        )
        a.export = gr.Button(
            i18n("export_adapter"), scale=1, min_width=100, elem_id="export-adapter"
        )
        a.delete = gr.Button(
            i18n("delete_button"), variant="stop", scale=1, min_width=100, elem_id="delete-adapter"
        )
    a.download = gr.File(label=i18n("exported_adapter"), visible=False, elem_id="adapter-download")
    a.upload = gr.File(
        label=i18n("import_adapter"),
        file_types=[".zip"],
        type="filepath",
        height=140,
        elem_id="import-adapter",
    )
    return a


# -- the tab -------------------------------------------------------------------------------
def build_adapters_tab(services, chat_model: gr.Dropdown) -> tuple:
    """Builds the tab; returns (refresh, its inputs, its outputs) for the page load.

    `chat_model` is the Chat tab's model selector: every change here refreshes its choices.
    """
    settings = services.settings
    job_id = gr.State(None)  # this session's training run
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, elem_id="train-panel"):
            form = training_form()
        with gr.Column(scale=3, elem_id="progress-panel"):
            shown = progress_panel()
    panel = adapters_panel()
    listing = [panel.table, panel.picked, chat_model]

    def listing_updates(request: gr.Request, current_model: str | None, select=None):
        """Table, picker (on `select` when given) and the chat's model selector."""
        owner = owner_of(request, settings)
        infos = services.adapters.list(owner)
        names = [i.name for i in infos]
        pick = select if select in names else (names[0] if names else None)
        picked = gr.update(choices=names, value=pick)
        models = services.chat_models(owner)
        return adapter_rows(infos), picked, model_selector_update(models, current_model)

    def refresh(current_model, request: gr.Request):
        return listing_updates(request, current_model)

    def submit(owner, config, data):
        try:
            return services.training.submit(owner, config, data)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc

    def watching(job):
        """Yields (status html, curve or None when unchanged) until the job has finished."""
        points = -1
        while not job.finished:
            now = len(job.status.train_loss) + len(job.status.val_loss)
            curve = curve_of(job) if now != points else None
            points = now
            line = status_line(job, services.training.position(job))
            yield status_html(line, job.status.fraction), curve
            time.sleep(POLL_S)

    def train(values: dict, request: gr.Request):
        """`values`: {component: value} of the form; see `train_inputs` below."""
        owner = owner_of(request, settings)
        config = train_config({field: values[c] for field, c in form.fields.items()})
        data = training_data(services, owner, values[form.source], values[form.file])
        if data.kind == "reader":  # passages plus question: longer rows than plain Q/A
            config = config.model_copy(update={"max_length": reader.MAX_LENGTH})
        job = submit(owner, config, data)
        legend = ["train", "validation"] if config.validation_fraction else ["train"]
        yield {
            job_id: job.id,
            form.train: gr.update(visible=False),
            form.cancel: gr.update(visible=True, interactive=True),
            shown.status: status_html("Starting…", 0.0),
            shown.plot: gr.update(value=loss_frame([], []), colors_in_legend=legend),
        }
        for html_status, curve in watching(job):
            update = {shown.status: html_status}
            if curve is not None:
                update[shown.plot] = curve
            yield update
        yield finished(job, values[chat_model], request)

    def finished(job, current_model, request) -> dict:
        state, text = outcome(job)
        (gr.Info if state == "done" else gr.Warning)(text)
        table, picked, model = listing_updates(request, current_model, job.config.name)
        fraction = 1.0 if state == "done" else None
        return {
            job_id: None,
            form.train: gr.update(visible=True),
            form.cancel: gr.update(visible=False),
            shown.status: status_html(text, fraction, state),
            shown.plot: curve_of(job),
            panel.table: table,
            panel.picked: picked,
            chat_model: model,
        }

    def cancel(current_job, request: gr.Request):
        if not current_job:
            return gr.update(visible=False)
        try:
            services.training.cancel(owner_of(request, settings), current_job)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info("Stopping after the current step…")
        return gr.update(interactive=False)

    def remove(name, current_model, request: gr.Request):
        if not name:
            raise gr.Error("Choose an adapter to delete first.")
        try:
            services.adapters.delete(owner_of(request, settings), name)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Deleted adapter {name}.")
        return *listing_updates(request, current_model), gr.update(visible=False, value=None)

    def export(name, request: gr.Request):
        if not name:
            raise gr.Error("Choose an adapter to export first.")
        try:
            path = services.adapters.export_zip(
                owner_of(request, settings), name, fresh_export_dir()
            )
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        return gr.update(value=str(path), visible=True)

    def import_zip(path, current_model, request: gr.Request):
        if not path:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            info = services.adapters.import_zip(owner_of(request, settings), Path(path))
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Imported adapter {info.name}.")
        return listing_updates(request, current_model, info.name)

    def method_changed(method):
        lora = method == "lora"
        return (
            gr.update(visible=lora),
            gr.update(visible=lora),
            gr.update(visible=not lora),
            gr.update(placeholder=f"{DEFAULT_LR[method]:g}"),
        )

    private = dict(api_visibility="private")
    form.source.change(
        lambda source: gr.update(visible=source == FROM_FILE),
        form.source,
        form.file,
        queue=False,
        **private,
    )
    form.method.change(
        method_changed,
        form.method,
        [form.lora_row, form.target, form.virtual_tokens, form.lr],
        queue=False,
        **private,
    )
    train_inputs = {*form.fields.values(), form.source, form.file, chat_model}
    train_outputs = [job_id, form.train, form.cancel, shown.status, shown.plot, *listing]
    training = form.train.click(
        train,
        train_inputs,
        train_outputs,
        concurrency_id="training",  # never "model": the chat must keep answering
        concurrency_limit=None,
        show_progress="minimal",  # the status line and its bar say more than a spinner
        show_progress_on=[shown.status],
        **private,
    )
    always_after(
        training,
        lambda: (gr.update(visible=True), gr.update(visible=False)),
        [form.train, form.cancel],
    )
    form.cancel.click(
        cancel,
        [job_id],
        [form.cancel],
        concurrency_id="training-control",
        concurrency_limit=None,
        **private,
    )
    panel.delete.click(remove, [panel.picked, chat_model], [*listing, panel.download], **private)
    panel.export.click(export, [panel.picked], [panel.download], **private)
    imported = panel.upload.upload(import_zip, [panel.upload, chat_model], listing, **private)
    always_after(imported, lambda: None, [panel.upload])  # ready for the next one
    return refresh, [chat_model], listing
