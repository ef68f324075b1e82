"""The Evaluate tab's components, built in page order and held in one `EvaluateTab`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from webapp.evaluation.qasets import COLUMNS
from webapp.ui.evaluate.views import (
    COMPARE_COLUMNS,
    RESULT_COLUMNS,
    blank_drilldown,
    config_choices,
    items_frame,
)
from webapp.ui.i18n import i18n, say

SPLITS = [(i18n(f"split_{split}"), split) for split in ("all", "test", "train")]
IDLE = "<div class='train-status idle'><p>" + i18n("eval_idle") + "</p></div>"
# The headers until the page load (or a run shown) fills the tables in the visitor's language.
RESULT_HEADERS = [say("en", key) for key in RESULT_COLUMNS]
COMPARE_HEADERS = [say("en", key) for key in COMPARE_COLUMNS]


@dataclass
class EvaluateTab:
    """Every component the handlers read or update, by name (the keys handlers return)."""

    job_id: gr.State
    current: gr.State  # the run shown (dict)
    # questions
    saved: gr.Dropdown
    delete_set: gr.Button
    upload: gr.UploadButton
    build: gr.Button
    table: gr.Dataframe
    summary: gr.Markdown
    set_name: gr.Textbox
    split_btn: gr.Button
    save: gr.Button
    train_btn: gr.Button
    test_btn: gr.Button
    # run
    configs: gr.CheckboxGroup
    split: gr.Radio
    run_btn: gr.Button
    cancel: gr.Button
    status: gr.HTML
    # results
    runs: gr.Dropdown
    compare_with: gr.Dropdown
    csv_btn: gr.DownloadButton
    json_btn: gr.DownloadButton
    results: gr.Dataframe
    plot: gr.Plot
    comparison: gr.Dataframe
    drill: gr.Dataframe
    detail: gr.Markdown
    chat_model: gr.Dropdown  # the Chat tab's model selector, refreshed after training

    def keyed(self, updates: dict) -> dict:
        """A handler's {name: value} as Gradio's {component: value}."""
        return {getattr(self, name): value for name, value in updates.items()}

    @property
    def shown(self) -> list:
        """What showing a run updates (handlers.shown_run)."""
        names = "current results plot drill detail csv_btn json_btn runs compare_with comparison"
        return [getattr(self, name) for name in names.split()]


def build(chat_model: gr.Dropdown) -> EvaluateTab:
    states = dict(job_id=gr.State(None), current=gr.State(None))
    gr.Markdown(i18n("eval_intro"), elem_classes=["hint"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, elem_id="qa-panel"):
            questions = questions_panel()
        with gr.Column(scale=2, elem_id="run-panel"):
            run = run_panel()
    return EvaluateTab(**states, **questions, **run, **results_panel(), chat_model=chat_model)


def questions_panel() -> dict:
    gr.Markdown(i18n("eval_questions_heading"))
    with gr.Row(elem_classes=["bottom-row"]):
        saved = gr.Dropdown(label=i18n("saved_sets"), choices=[], scale=3, elem_id="saved-sets")
        delete_set = gr.Button(
            i18n("delete_set"), variant="stop", size="md", scale=1, min_width=110
        )
    with gr.Row(equal_height=True):
        upload = gr.UploadButton(
            i18n("upload_question_set"),
            file_types=[".jsonl", ".csv", ".json"],
            elem_id="upload-questions",
        )
        build = gr.Button(i18n("build_questions"), elem_id="build-questions")
    table = gr.Dataframe(
        value=items_frame([]),
        headers=COLUMNS,
        interactive=True,
        wrap=True,
        max_height=360,
        label=i18n("questions_table"),
        column_widths=["30%", "16%", "14%", "7%", "17%", "8%", "8%"],
        elem_id="qa-table",
    )
    summary = gr.Markdown("", elem_classes=["hint"], elem_id="qa-summary")
    return dict(
        saved=saved,
        delete_set=delete_set,
        upload=upload,
        build=build,
        table=table,
        summary=summary,
        **set_actions(),
    )


def set_actions() -> dict:
    """Name, split and save the set; train on its training split, evaluate on its test one."""
    with gr.Row(elem_classes=["bottom-row"]):
        set_name = gr.Textbox(
            label=i18n("set_name"),
            max_lines=1,
            scale=2,
            placeholder=i18n("set_name_placeholder"),
            elem_id="set-name",
        )
        split_btn = gr.Button(
            i18n("split_by_document"),
            size="md",
            scale=1,
            min_width=150,
            elem_id="split-set",
        )
        save = gr.Button(i18n("save_set"), size="md", scale=1, min_width=90, elem_id="save-set")
    with gr.Row():
        train_btn = gr.Button(i18n("train_on_split"), elem_id="train-on-split")
        test_btn = gr.Button(i18n("eval_test_split"), elem_id="eval-test-split")
    return dict(
        set_name=set_name, split_btn=split_btn, save=save, train_btn=train_btn, test_btn=test_btn
    )


def run_panel() -> dict:
    gr.Markdown(i18n("eval_run_heading"))
    configs = gr.CheckboxGroup(
        config_choices([]),
        value=["base", "rag"],
        label=i18n("eval_configs"),
        info=i18n("eval_configs_info"),
        elem_id="eval-configs",
    )
    split = gr.Radio(SPLITS, value="all", label=i18n("eval_split"), elem_id="eval-split")
    with gr.Row():
        run_btn = gr.Button(i18n("run_evaluation"), variant="primary", elem_id="run-eval")
        cancel = gr.Button(
            i18n("cancel_button"), variant="stop", visible=False, elem_id="cancel-eval"
        )
    status = gr.HTML(IDLE, container=True, padding=True, elem_id="eval-status")
    return dict(configs=configs, split=split, run_btn=run_btn, cancel=cancel, status=status)


def results_panel() -> dict:
    gr.Markdown(i18n("eval_results_heading"))
    with gr.Row(elem_classes=["bottom-row"]):
        runs = gr.Dropdown(label=i18n("saved_runs"), choices=[], scale=3, elem_id="saved-runs")
        compare_with = gr.Dropdown(
            label=i18n("compare_with"), choices=[], scale=3, elem_id="compare-with"
        )
        csv_btn = gr.DownloadButton(
            "CSV", size="md", visible=False, scale=1, min_width=80, elem_id="export-csv"
        )
        json_btn = gr.DownloadButton(
            "JSON", size="md", visible=False, scale=1, min_width=80, elem_id="export-json"
        )
    return dict(
        runs=runs, compare_with=compare_with, csv_btn=csv_btn, json_btn=json_btn, **result_views()
    )


def result_views() -> dict:
    """The scores table and chart, a comparison with another run, and the drill-down."""
    results = gr.Dataframe(
        headers=RESULT_HEADERS,
        interactive=False,
        wrap=True,
        label=i18n("scores_table"),
        elem_id="eval-results",
    )
    plot = gr.Plot(label=i18n("scores_chart"), visible=False, elem_id="eval-chart")
    comparison = gr.Dataframe(
        headers=COMPARE_HEADERS,
        interactive=False,
        visible=False,
        label=i18n("comparison_table"),
        elem_id="eval-compare",
    )
    drill = gr.Dataframe(
        value=blank_drilldown("en"),
        interactive=False,
        wrap=True,
        max_height=420,
        label=i18n("drilldown_table"),
        elem_id="eval-drilldown",
    )
    detail = gr.Markdown("", elem_id="eval-detail")
    return dict(results=results, plot=plot, comparison=comparison, drill=drill, detail=detail)
