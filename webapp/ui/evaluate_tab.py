"""The Evaluate tab: which answers best on your documents — the model alone, with your
documents (RAG), an adapter, or an adapter with RAG? Measured on your own questions.

1. Questions: upload a question set, or build one from your documents, edit it in the table,
   split it by document and save it. From a saved set, one click trains an adapter on its
   training split, another evaluates on its test split.
2. Run: pick configurations; the run happens in the background (webapp.evaluation.jobs) and
   this tab polls it for the progress bar; Cancel stops it between two questions.
3. Results: a table, a grouped bar chart, a per-question drill-down with each configuration's
   answer and sources, CSV/JSON export, and earlier runs to reload or compare.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import altair as alt
import gradio as gr
import pandas as pd

from webapp.adapters.config import TrainConfig
from webapp.errors import WebappError
from webapp.evaluation import builder, qasets, runner
from webapp.evaluation.qasets import COLUMNS, QAItem, QASet
from webapp.ui.adapters_tab import fresh_export_dir, status_html, status_line
from webapp.ui.chat_tab import always_after, model_selector_update
from webapp.ui.i18n import i18n
from webapp.ui.identity import owner_of
from webapp.ui.render import escape_markdown

POLL_S = 0.5
SPLITS = [(i18n(f"split_{split}"), split) for split in ("all", "test", "train")]
IDLE = "<div class='train-status idle'><p>" + i18n("eval_idle") + "</p></div>"
RESULT_HEADERS = [
    "Configuration",
    "Questions",
    *[label for _, label in runner.METRICS],
    "Latency (s)",
    "Tokens/s",
]
COMPARE_HEADERS = ["Configuration", "Metric", "Other run", "This run", "Change"]
PALETTE = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b"]


# -- question-set table <-> items ------------------------------------------------------------
def items_frame(items: list[QAItem]) -> pd.DataFrame:
    rows = [
        [
            i.question,
            i.answer,
            i.source or "",
            i.page or "",
            i.paraphrase or "",
            "yes" if i.answerable else "no",
            i.split or "",
        ]
        for i in items
    ]
    return pd.DataFrame(rows, columns=COLUMNS).astype(str)


def items_from_frame(frame) -> list[QAItem]:
    """The edited table as items; a plain-words error naming the bad rows."""
    if frame is None:
        raise gr.Error("There are no questions yet: upload a set or build one.")
    frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    rows = [
        (n, {k: v for k, v in row.items() if str(v).strip() != ""})
        for n, row in enumerate(frame.to_dict("records"), start=1)
        if any(str(v).strip() for v in row.values())
    ]
    if not rows:
        raise gr.Error("There are no questions yet: upload a question set or build one.")
    try:
        return qasets.from_rows(rows, "table").items
    except WebappError as exc:
        raise gr.Error(str(exc).replace("line ", "row ")) from exc


def set_summary(items: list[QAItem]) -> str:
    c = QASet("", items).counts()
    split = f" · {c['train']} for training, {c['test']} for testing" if c["train"] else ""
    docs = f" from {c['documents']} document(s)" if c["documents"] else ""
    return f"{c['questions']} question(s){docs}{split}."


# -- results -----------------------------------------------------------------------------------
def cell(value, digits: int = 3):
    return "–" if value is None else round(value, digits)


def results_rows(run: dict) -> list[list]:
    return [
        [
            c["label"],
            c["n"],
            *[cell(c.get(k)) for k, _ in runner.METRICS],
            cell(c["latency_s"], 2),
            cell(c.get("tokens_per_s"), 1),
        ]
        for c in run["configs"]
    ]


def chart(run: dict) -> alt.Chart:
    """Grouped bars: one group per metric, one bar per configuration."""
    rows = [
        {"metric": label, "configuration": c["label"], "value": c[key]}
        for key, label in runner.METRICS
        for c in run["configs"]
        if c.get(key) is not None
    ]
    shown = [label for _, label in runner.METRICS if any(r["metric"] == label for r in rows)]
    names = [c["label"] for c in run["configs"]]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2)
        .encode(
            x=alt.X("metric:N", sort=shown, title=None, axis=alt.Axis(labelAngle=0, labelLimit=90)),
            xOffset=alt.XOffset("configuration:N", sort=names),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="score (0–1)"),
            color=alt.Color(
                "configuration:N",
                sort=names,
                scale=alt.Scale(domain=names, range=PALETTE[: len(names)]),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=["configuration:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
        .properties(height=300, width=760)
        # No "Open in Vega Editor" menu: it would post the user's data to an outside site.
        .properties(usermeta={"embedOptions": {"actions": False}})
    )


def drilldown_frame(run: dict) -> pd.DataFrame:
    rows = runner.drilldown(run)
    columns = ["#", "question", "gold"] + [c["label"] for c in run["configs"]]
    frame = pd.DataFrame(rows, columns=columns).fillna("")
    return frame.rename(columns={"question": "Question", "gold": "Gold answer"}).astype(str)


def question_detail(run: dict, row: int) -> str:
    """Each configuration's answer and sources for one drill-down row (escaped Markdown)."""
    keys = runner.question_keys(run)
    if not 0 <= row < len(keys):
        return ""
    index, variant = keys[row]
    records = [r for r in run["records"] if (r["index"], r["variant"]) == (index, variant)]
    labels = {c["name"]: c["label"] for c in run["configs"]}
    first = records[0]
    gold = first["gold"] or "(the documents do not answer this)"
    parts = [f"**{escape_markdown(first['question'])}**  \nGold answer: {escape_markdown(gold)}"]
    for r in records:
        marks = []
        if r["contains"] is not None:
            marks.append("contains the answer" if r["contains"] else "misses the answer")
        if r["abstained"]:
            marks.append("declined to answer")
        parts.append(
            f"#### {escape_markdown(labels.get(r['config'], r['config']))}\n"
            f"{escape_markdown(r['answer'] or '(no answer)')}  \n*{', '.join(marks)} · "
            f"{r['latency_s']:.2f} s*"
        )
        for n, s in enumerate(r["sources"], start=1):
            where = s["file"] + (f", page {s['page']}" if s.get("page") else "")
            text = escape_markdown(" ".join(s["text"].split())[:400])
            parts.append(f"> **[{n}] {escape_markdown(where)}** · {s['score']:.2f} — {text}")
    return "\n\n".join(parts)


def export_files(run: dict) -> tuple[str, str]:
    folder = fresh_export_dir()
    csv_path = folder / f"evaluation-{run['run_id']}.csv"
    json_path = folder / f"evaluation-{run['run_id']}.json"
    csv_path.write_text(runner.to_csv(run), encoding="utf-8")
    json_path.write_text(json.dumps(run, ensure_ascii=False, indent=1), encoding="utf-8")
    return str(csv_path), str(json_path)


def config_choices(adapter_names: list[str]) -> list[tuple[str, str]]:
    choices = [(i18n("config_base"), "base"), (i18n("config_rag"), "rag")]
    for name in adapter_names:
        choices += [(f"{name}", f"adapter:{name}"), (f"{name} + RAG", f"adapter:{name}+rag")]
    return choices


def unused_name(services, owner: str, base: str) -> str:
    base = qasets.safe_set_name(base)[:40]
    name, n = base, 2
    while services.adapters.exists(owner, name):
        name, n = f"{base}-{n}", n + 1
    return name


# -- the tab -----------------------------------------------------------------------------------
def build_evaluate_tab(services, chat_model: gr.Dropdown):
    """Builds the tab; returns (refresh, inputs, outputs) for the page load."""
    settings = services.settings
    job_id = gr.State(None)
    current = gr.State(None)  # the run shown (dict)
    gr.Markdown(i18n("eval_intro"), elem_classes=["hint"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, elem_id="qa-panel"):
            gr.Markdown(i18n("eval_questions_heading"))
            with gr.Row(elem_classes=["bottom-row"]):
                saved = gr.Dropdown(
                    label=i18n("saved_sets"), choices=[], scale=3, elem_id="saved-sets"
                )
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
                save = gr.Button(
                    i18n("save_set"), size="md", scale=1, min_width=90, elem_id="save-set"
                )
            with gr.Row():
                train_btn = gr.Button(i18n("train_on_split"), elem_id="train-on-split")
                test_btn = gr.Button(i18n("eval_test_split"), elem_id="eval-test-split")
        with gr.Column(scale=2, elem_id="run-panel"):
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
        value=pd.DataFrame(columns=["#", "Question", "Gold answer"]),
        interactive=False,
        wrap=True,
        max_height=420,
        label=i18n("drilldown_table"),
        elem_id="eval-drilldown",
    )
    detail = gr.Markdown("", elem_id="eval-detail")

    # -- helpers ------------------------------------------------------------------------
    def owner(request) -> str:
        return owner_of(request, settings)

    def run_choices(who: str):
        return [(runner.describe(r), r["run_id"]) for r in services.evals.list(who)]

    def show_run(run: dict, who: str) -> dict:
        csv_path, json_path = export_files(run)
        choices = run_choices(who)
        return {
            current: run,
            results: results_rows(run),
            plot: gr.update(value=chart(run), visible=True),
            drill: drilldown_frame(run),
            detail: "",
            csv_btn: gr.update(value=csv_path, visible=True),
            json_btn: gr.update(value=json_path, visible=True),
            runs: gr.update(choices=choices, value=run["run_id"]),
            compare_with: gr.update(choices=choices, value=None),
            comparison: gr.update(visible=False),
        }

    def refresh(chosen_configs, request: gr.Request):
        who = owner(request)
        names = services.chat_models(who)  # with a model server, the adapters it serves
        valid = {v for _, v in config_choices(names)}
        choices = run_choices(who)
        return (
            gr.update(choices=services.qasets.list(who)),
            gr.update(
                choices=config_choices(names), value=[c for c in chosen_configs or [] if c in valid]
            ),
            gr.update(choices=choices),
            gr.update(choices=choices),
        )

    # -- question sets ------------------------------------------------------------------
    def uploaded(file, request: gr.Request):
        if not file:
            return gr.skip(), gr.skip(), gr.skip()
        path = Path(file if isinstance(file, str) else file.name)
        try:
            qaset = qasets.load_file(path, path.name)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Loaded {len(qaset.items)} questions; review them, then save or run.")
        name = qasets.safe_set_name(qaset.name)
        return items_frame(qaset.items), name, set_summary(qaset.items)

    def built(request: gr.Request, progress=gr.Progress()):
        who = owner(request)
        try:
            items = builder.build(
                services, who, progress=lambda f, w: progress(f, desc=f"Reading {w}")
            )
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        items = qasets.split_by_document(items) if len({i.source for i in items}) > 1 else items
        gr.Info(f"Made {len(items)} questions. Check and edit them before saving.")
        return items_frame(items), "from-my-documents", set_summary(items)

    def split_table(frame):
        items = qasets.split_by_document(items_from_frame(frame))
        return items_frame(items), set_summary(items)

    def saved_set(name, frame, request: gr.Request):
        items = items_from_frame(frame)
        try:
            services.qasets.save(owner(request), QASet(str(name or "").strip(), items))
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Saved question set “{name}”.")
        return gr.update(choices=services.qasets.list(owner(request)), value=name)

    def picked_set(name, request: gr.Request):
        if not name:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            qaset = services.qasets.load(owner(request), name)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        return items_frame(qaset.items), name, set_summary(qaset.items)

    def removed_set(name, request: gr.Request):
        if not name:
            raise gr.Error("Choose a saved set to delete first.")
        try:
            services.qasets.delete(owner(request), name)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Deleted question set “{name}”.")
        return gr.update(choices=services.qasets.list(owner(request)), value=None)

    # -- running ------------------------------------------------------------------------
    def start(frame, name, chosen, which, request: gr.Request):
        who = owner(request)
        if not chosen:
            raise gr.Error("Choose at least one configuration to evaluate.")
        try:
            configs = [runner.EvalConfig.parse(c) for c in chosen]
            items = QASet(name or "table", items_from_frame(frame)).only(which)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc

        def work(progress, cancel_event):
            return services.evaluate(
                who,
                items,
                configs,
                qaset=name or "",
                split=which,
                progress=progress,
                cancel=cancel_event,
            )

        try:
            return services.eval_jobs.submit(who, work)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc

    def evaluate(frame, name, chosen, which, request: gr.Request):
        job = start(frame, name, chosen, which, request)
        yield {
            job_id: job.id,
            run_btn: gr.update(visible=False),
            test_btn: gr.update(interactive=False),
            cancel: gr.update(visible=True, interactive=True),
            status: status_html("Starting…", 0.0),
        }
        while not job.finished:
            yield {status: status_html(job.message, job.fraction)}
            time.sleep(POLL_S)
        done = {
            job_id: None,
            run_btn: gr.update(visible=True),
            test_btn: gr.update(interactive=True),
            cancel: gr.update(visible=False),
        }
        if job.state != "done":
            (gr.Info if job.state == "cancelled" else gr.Warning)(job.message)
            yield {**done, status: status_html(job.message, None, job.state)}
            return
        run = job.result
        best = max(run["configs"], key=lambda c: c["contains"])
        text = (
            f"Done: {run['questions']} questions in {run['seconds']:.0f} s. Most answers "
            f"containing the gold answer: {best['label']} ({best['contains']:.0%})."
        )
        yield {**done, status: status_html(text, 1.0, "done"), **show_run(run, owner(request))}

    def evaluate_test(frame, name, chosen, request: gr.Request):
        yield {split: "test"}
        yield from evaluate(frame, name, chosen, "test", request)

    def stop(current_job, request: gr.Request):
        if current_job:
            with contextlib.suppress(WebappError):
                services.eval_jobs.cancel(owner(request), current_job)
            gr.Info("Stopping after the current question…")
        return gr.update(interactive=False)

    def train_split(frame, name, chosen, current_model, request: gr.Request):
        who = owner(request)
        items = QASet(name or "questions", items_from_frame(frame))
        try:
            data = qasets.training_set(items.only("train"), f"{name or 'questions'} (train split)")
            config = TrainConfig(name=unused_name(services, who, f"{name or 'questions'}-adapter"))
            job = services.training.submit(who, config, data)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        yield {
            train_btn: gr.update(interactive=False),
            status: status_html(f"Training adapter “{config.name}”…", 0.0),
        }
        while not job.finished:
            line = status_line(job, services.training.position(job))
            yield {status: status_html(f"Training “{config.name}”: {line}", job.status.fraction)}
            time.sleep(POLL_S)
        names = services.chat_models(who)
        if job.metadata is None:
            message = job.status.message or "Training failed."
            yield {
                train_btn: gr.update(interactive=True),
                status: status_html(message, None, "failed"),
            }
            return
        picked = [*(chosen or []), f"adapter:{config.name}", f"adapter:{config.name}+rag"]
        valid = {v for _, v in config_choices(names)}
        picked = [c for c in picked if c in valid]
        text = f"Adapter “{config.name}” trained on {len(data.examples)} questions. " + (
            "It is selected below; evaluate it on the test split."
            if config.name in names  # with a model server, only once that server serves it
            else "Export it and serve it from the model server to evaluate it."
        )
        gr.Info(text)
        yield {
            train_btn: gr.update(interactive=True),
            status: status_html(text, 1.0, "done"),
            configs: gr.update(choices=config_choices(names), value=picked),
            chat_model: model_selector_update(names, current_model),
        }

    # -- saved runs ---------------------------------------------------------------------
    def load_run(run_id, request: gr.Request):
        if not run_id:
            return {}
        try:
            run = services.evals.load(owner(request), run_id)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        return show_run(run, owner(request))

    def compared(other_id, run, request: gr.Request):
        if not other_id or not run:
            return gr.update(visible=False)
        try:
            other = services.evals.load(owner(request), other_id)
            rows = runner.compare(other, run)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        return gr.update(
            value=[
                [r["config"], r["metric"], cell(r["a"]), cell(r["b"]), cell(r["change"])]
                for r in rows
            ],
            visible=True,
        )

    def selected(run, evt: gr.SelectData):
        return question_detail(run, evt.index[0]) if run else ""

    # -- wiring -------------------------------------------------------------------------
    private = dict(api_visibility="private")
    upload.upload(uploaded, [upload], [table, set_name, summary], **private)
    build.click(built, None, [table, set_name, summary], show_progress_on=[table], **private)
    split_btn.click(split_table, [table], [table, summary], **private)
    save.click(saved_set, [set_name, table], [saved], **private)
    saved.input(picked_set, [saved], [table, set_name, summary], **private)
    delete_set.click(removed_set, [saved], [saved], **private)
    shown = [
        current,
        results,
        plot,
        drill,
        detail,
        csv_btn,
        json_btn,
        runs,
        compare_with,
        comparison,
    ]
    run_outputs = [job_id, run_btn, test_btn, cancel, status, split, *shown]
    eval_options = dict(
        concurrency_id="evaluation",
        concurrency_limit=None,
        show_progress="minimal",
        show_progress_on=[status],
        **private,
    )
    running = run_btn.click(
        evaluate, [table, set_name, configs, split], run_outputs, **eval_options
    )
    testing = test_btn.click(evaluate_test, [table, set_name, configs], run_outputs, **eval_options)
    for event in (running, testing):
        always_after(
            event,
            lambda: (
                gr.update(visible=True),
                gr.update(visible=False),
                gr.update(interactive=True),
            ),
            [run_btn, cancel, test_btn],
        )
    cancel.click(
        stop,
        [job_id],
        [cancel],
        concurrency_id="evaluation-control",
        concurrency_limit=None,
        **private,
    )
    training = train_btn.click(
        train_split,
        [table, set_name, configs, chat_model],
        [train_btn, status, configs, chat_model],
        concurrency_id="training",
        concurrency_limit=None,
        show_progress="minimal",
        show_progress_on=[status],
        **private,
    )
    always_after(training, lambda: gr.update(interactive=True), [train_btn])
    runs.input(load_run, [runs], shown, **private)
    compare_with.input(compared, [compare_with, current], [comparison], **private)
    drill.select(selected, [current], [detail], **private)
    return refresh, [configs], [saved, configs, runs, compare_with]
