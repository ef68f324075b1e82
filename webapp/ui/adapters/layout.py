"""The Adapters tab's components, built in page order and held in one `AdaptersTab`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from webapp.adapters.config import DEFAULT_LR, TrainConfig
from webapp.ui.adapters.views import (
    ADAPTER_COLUMNS,
    FROM_DOCS,
    FROM_FEEDBACK,
    FROM_FILE,
    FROM_READER,
    METHODS,
    loss_frame,
)
from webapp.ui.i18n import i18n, say

SOURCES = [
    (i18n("data_from_file"), FROM_FILE),
    (i18n("data_from_docs"), FROM_DOCS),
    (i18n("data_from_reader"), FROM_READER),
    (i18n("data_from_feedback"), FROM_FEEDBACK),
]
TARGETS = [(i18n("target_attention"), "attention"), (i18n("target_all_linear"), "all-linear")]
DEFAULTS = {name: field.default for name, field in TrainConfig.model_fields.items()}
# The headers until the page load's refresh fills the table (in the visitor's language).
ADAPTER_HEADERS = [say("en", key) for key in ADAPTER_COLUMNS]
FIELD_COMPONENTS = {  # TrainConfig field -> the AdaptersTab field of the component that sets it
    "name": "name",
    "method": "method",
    "epochs": "epochs",
    "learning_rate": "lr",
    "rank": "rank",
    "alpha": "alpha",
    "dropout": "dropout",
    "target": "target",
    "virtual_tokens": "virtual_tokens",
    "validation_fraction": "validation",
}
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


@dataclass
class AdaptersTab:
    """Every component the handlers read or update, by name (the keys handlers return)."""

    job_id: gr.State  # this session's training run
    # the training form
    name: gr.Textbox
    source: gr.Radio
    file: gr.File
    method: gr.Radio
    epochs: gr.Number
    lr: gr.Textbox
    lora_row: gr.Row
    rank: gr.Number
    alpha: gr.Number
    dropout: gr.Number
    target: gr.Radio
    virtual_tokens: gr.Number
    validation: gr.Slider
    train: gr.Button
    cancel: gr.Button
    # its progress
    status: gr.HTML
    plot: gr.LinePlot
    # the adapters
    table: gr.Dataframe
    picked: gr.Dropdown
    export: gr.Button
    delete: gr.Button
    download: gr.File
    upload: gr.File
    chat_model: gr.Dropdown  # the Chat tab's model selector, refreshed after every change

    def keyed(self, updates: dict) -> dict:
        """A handler's {name: value} as Gradio's {component: value}."""
        return {getattr(self, name): value for name, value in updates.items()}

    @property
    def fields(self) -> dict:
        """TrainConfig field -> the component that sets it."""
        return {field: getattr(self, name) for field, name in FIELD_COMPONENTS.items()}

    @property
    def listing(self) -> list:
        """What a change to the adapters updates (handlers.listing)."""
        return [self.table, self.picked, self.chat_model]


def build(chat_model: gr.Dropdown) -> AdaptersTab:
    job_id = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, elem_id="train-panel"):
            form = training_form()
        with gr.Column(scale=3, elem_id="progress-panel"):
            shown = progress_panel()
    return AdaptersTab(job_id=job_id, **form, **shown, **adapters_panel(), chat_model=chat_model)


def training_form() -> dict:
    name = gr.Textbox(
        label=i18n("train_name"),
        placeholder=i18n("train_name_placeholder"),
        max_lines=1,
        info=i18n("train_name_info"),
        elem_id="adapter-name",
    )
    source = gr.Radio(SOURCES, value=FROM_FILE, label=i18n("training_data"), elem_id="data-source")
    file = gr.File(
        label=i18n("training_file"),
        file_types=[".jsonl", ".csv", ".json"],
        type="filepath",
        height=120,
        elem_id="training-file",
    )
    gr.Markdown(i18n("training_data_hint"), elem_classes=["hint"])
    method = gr.Radio(
        [(i18n(f"method_{method}"), method) for method in METHODS],
        value="lora",
        label=i18n("train_method"),
        elem_id="method",
    )
    with gr.Accordion(i18n("hyperparameters"), open=False, elem_id="hyperparameters"):
        hyperparameters = hyperparameter_fields()
    with gr.Row():
        train = gr.Button(i18n("train_button"), variant="primary", elem_id="train")
        cancel = gr.Button(
            i18n("cancel_button"), variant="stop", visible=False, elem_id="cancel-training"
        )
    return dict(
        name=name,
        source=source,
        file=file,
        method=method,
        **hyperparameters,
        train=train,
        cancel=cancel,
    )


def hyperparameter_fields() -> dict:
    with gr.Row():
        epochs = gr.Number(
            DEFAULTS["epochs"],
            label=i18n("train_epochs"),
            precision=0,
            info=i18n("train_epochs_info"),
            elem_id="epochs",
        )
        lr = gr.Textbox(
            label=i18n("train_learning_rate"),
            placeholder=f"{DEFAULT_LR['lora']:g}",
            info=i18n("train_learning_rate_info"),
            max_lines=1,
            elem_id="learning-rate",
        )
    with gr.Row(visible=True) as lora_row:
        rank = gr.Number(DEFAULTS["rank"], label=i18n("train_rank"), precision=0, min_width=100)
        alpha = gr.Number(DEFAULTS["alpha"], label=i18n("train_alpha"), precision=0, min_width=100)
        dropout = gr.Number(
            DEFAULTS["dropout"], label=i18n("train_dropout"), step=0.05, min_width=100
        )
    lora = dict(lora_row=lora_row, rank=rank, alpha=alpha, dropout=dropout)
    return dict(epochs=epochs, lr=lr, **lora, **target_and_validation_fields())


def target_and_validation_fields() -> dict:
    """LoRA's target modules, the soft prompts' length (hidden for LoRA), validation share."""
    target = gr.Radio(
        TARGETS,
        value=DEFAULTS["target"],
        label=i18n("train_target"),
        visible=True,
        elem_id="lora-target",
    )
    virtual_tokens = gr.Number(
        DEFAULTS["virtual_tokens"],
        label=i18n("train_virtual_tokens"),
        precision=0,
        visible=False,
        info=i18n("train_virtual_tokens_info"),
    )
    validation = gr.Slider(
        0.0,
        0.5,
        value=DEFAULTS["validation_fraction"],
        step=0.05,
        label=i18n("train_validation_fraction"),
        info=i18n("train_validation_fraction_info"),
    )
    return dict(target=target, virtual_tokens=virtual_tokens, validation=validation)


def progress_panel() -> dict:
    status = gr.HTML(
        IDLE,
        css_template=STATUS_CSS,
        js_on_load=None,
        container=True,
        padding=True,
        elem_id="train-status",
    )
    plot = gr.LinePlot(
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
    return dict(status=status, plot=plot)


def adapters_panel() -> dict:
    table = gr.Dataframe(
        headers=ADAPTER_HEADERS,
        label=i18n("your_adapters"),
        interactive=False,
        wrap=True,
        elem_id="adapters",
    )
    with gr.Row(equal_height=True):
        picked = gr.Dropdown(
            label=i18n("adapter_picker"), choices=[], scale=4, elem_id="picked-adapter"
        )
        export = gr.Button(i18n("export_adapter"), scale=1, min_width=100, elem_id="export-adapter")
        delete = gr.Button(
            i18n("delete_button"), variant="stop", scale=1, min_width=100, elem_id="delete-adapter"
        )
    download = gr.File(label=i18n("exported_adapter"), visible=False, elem_id="adapter-download")
    upload = gr.File(
        label=i18n("import_adapter"),
        file_types=[".zip"],
        type="filepath",
        height=140,
        elem_id="import-adapter",
    )
    return dict(
        table=table, picked=picked, export=export, delete=delete, download=download, upload=upload
    )
