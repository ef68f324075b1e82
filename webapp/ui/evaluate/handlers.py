"""What the Evaluate tab's events do, as plain functions of (services, inputs..., owner).

The owner is resolved by the caller (webapp.ui.evaluate.wiring, from the request). A
handler returns the values of its outputs, or {name: value} keyed by the names of
`layout.EvaluateTab`'s fields; the generators yield such dicts while a job runs. Domain
errors reach the page as their plain message (`plain_errors`)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import gradio as gr

from webapp.adapters.config import TrainConfig
from webapp.errors import WebappError
from webapp.evaluation import qasets, runner, store
from webapp.evaluation.qasets import QASet
from webapp.ui.adapters.views import status_html, status_line
from webapp.ui.api import plain_errors
from webapp.ui.chat.views import model_selector_update
from webapp.ui.evaluate.views import (
    chart,
    comparison_rows,
    config_choices,
    drilldown_frame,
    export_files,
    items_frame,
    items_from_frame,
    question_detail,
    results_rows,
    set_summary,
    valid_configs,
)

POLL_S = 0.5


# -- choices and the run shown ---------------------------------------------------------------
def run_choices(services, owner: str) -> list[tuple[str, str]]:
    return [(store.describe(r), r["run_id"]) for r in services.evals.list(owner)]


def refresh(services, chosen_configs, owner: str) -> tuple:
    """Saved sets, configurations (the owner's adapters), runs, compare-with: on page load."""
    names = services.chat_models(owner)  # with a model server, the adapters it serves
    valid = valid_configs(names)
    choices = run_choices(services, owner)
    return (
        gr.update(choices=services.qasets.list(owner)),
        gr.update(
            choices=config_choices(names), value=[c for c in chosen_configs or [] if c in valid]
        ),
        gr.update(choices=choices),
        gr.update(choices=choices),
    )


def shown_run(services, run: dict, owner: str) -> dict:
    csv_path, json_path = export_files(run)
    choices = run_choices(services, owner)
    return {
        "current": run,
        "results": results_rows(run),
        "plot": gr.update(value=chart(run), visible=True),
        "drill": drilldown_frame(run),
        "detail": "",
        "csv_btn": gr.update(value=csv_path, visible=True),
        "json_btn": gr.update(value=json_path, visible=True),
        "runs": gr.update(choices=choices, value=run["run_id"]),
        "compare_with": gr.update(choices=choices, value=None),
        "comparison": gr.update(visible=False),
    }


def unused_name(services, owner: str, base: str) -> str:
    base = qasets.safe_set_name(base)[:40]
    name, n = base, 2
    while services.adapters.exists(owner, name):
        name, n = f"{base}-{n}", n + 1
    return name


# -- question sets: each returns (table, set name, summary) or the saved-set dropdown ------
@plain_errors
def uploaded(file):
    if not file:
        return gr.skip(), gr.skip(), gr.skip()
    path = Path(file if isinstance(file, str) else file.name)
    qaset = qasets.load_file(path, path.name)
    gr.Info(f"Loaded {len(qaset.items)} questions; review them, then save or run.")
    name = qasets.safe_set_name(qaset.name)
    return items_frame(qaset.items), name, set_summary(qaset.items)


@plain_errors
def built(services, owner: str, progress):
    items = services.questions.build(owner, progress=lambda f, w: progress(f, desc=f"Reading {w}"))
    items = qasets.split_by_document(items) if len({i.source for i in items}) > 1 else items
    gr.Info(f"Made {len(items)} questions. Check and edit them before saving.")
    return items_frame(items), "from-my-documents", set_summary(items)


def split_table(frame):
    items = qasets.split_by_document(items_from_frame(frame))
    return items_frame(items), set_summary(items)


@plain_errors
def saved_set(services, name, frame, owner: str):
    items = items_from_frame(frame)
    services.qasets.save(owner, QASet(str(name or "").strip(), items))
    gr.Info(f"Saved question set “{name}”.")
    return gr.update(choices=services.qasets.list(owner), value=name)


@plain_errors
def picked_set(services, name, owner: str):
    if not name:
        return gr.skip(), gr.skip(), gr.skip()
    qaset = services.qasets.load(owner, name)
    return items_frame(qaset.items), name, set_summary(qaset.items)


@plain_errors
def removed_set(services, name, owner: str):
    if not name:
        raise gr.Error("Choose a saved set to delete first.")
    services.qasets.delete(owner, name)
    gr.Info(f"Deleted question set “{name}”.")
    return gr.update(choices=services.qasets.list(owner), value=None)


# -- running ---------------------------------------------------------------------------------
@plain_errors
def start(services, frame, name, chosen, which, owner: str):
    """The evaluation of the table's `which` split, submitted as a background job."""
    if not chosen:
        raise gr.Error("Choose at least one configuration to evaluate.")
    configs = [runner.EvalConfig.parse(c) for c in chosen]
    items = QASet(name or "table", items_from_frame(frame)).only(which)

    def work(progress, cancel_event):
        return services.evaluation.run(
            owner,
            items,
            configs,
            qaset=name or "",
            split=which,
            progress=progress,
            cancel=cancel_event,
        )

    return services.eval_jobs.submit(owner, work)


def evaluate(services, frame, name, chosen, which, owner: str):
    """Starts the run, then its progress while it runs, then its results."""
    job = start(services, frame, name, chosen, which, owner)
    yield {
        "job_id": job.id,
        "run_btn": gr.update(visible=False),
        "test_btn": gr.update(interactive=False),
        "cancel": gr.update(visible=True, interactive=True),
        "status": status_html("Starting…", 0.0),
    }
    while not job.finished:
        yield {"status": status_html(job.message, job.fraction)}
        time.sleep(POLL_S)
    done = {
        "job_id": None,
        "run_btn": gr.update(visible=True),
        "test_btn": gr.update(interactive=True),
        "cancel": gr.update(visible=False),
    }
    if job.state != "done":
        (gr.Info if job.state == "cancelled" else gr.Warning)(job.message)
        yield {**done, "status": status_html(job.message, None, job.state)}
        return
    run = job.result
    status = status_html(done_message(run), 1.0, "done")
    yield {**done, "status": status, **shown_run(services, run, owner)}


def done_message(run: dict) -> str:
    best = max(run["configs"], key=lambda c: c["contains"])
    return (
        f"Done: {run['questions']} questions in {run['seconds']:.0f} s. Most answers "
        f"containing the gold answer: {best['label']} ({best['contains']:.0%})."
    )


def evaluate_test(services, frame, name, chosen, owner: str):
    yield {"split": "test"}
    yield from evaluate(services, frame, name, chosen, "test", owner)


def stop(services, current_job, owner: str):
    if current_job:
        with contextlib.suppress(WebappError):
            services.eval_jobs.cancel(owner, current_job)
        gr.Info("Stopping after the current question…")
    return gr.update(interactive=False)


# -- training an adapter on the training split -------------------------------------------------
@plain_errors
def submit_training(services, frame, name, owner: str):
    """(config, training set, job) of an adapter trained on the table's training split."""
    items = QASet(name or "questions", items_from_frame(frame))
    data = qasets.training_set(items.only("train"), f"{name or 'questions'} (train split)")
    config = TrainConfig(name=unused_name(services, owner, f"{name or 'questions'}-adapter"))
    return config, data, services.training.submit(owner, config, data)


def train_split(services, frame, name, chosen, current_model, owner: str):
    config, data, job = submit_training(services, frame, name, owner)
    yield {
        "train_btn": gr.update(interactive=False),
        "status": status_html(f"Training adapter “{config.name}”…", 0.0),
    }
    while not job.finished:
        line = status_line(job, services.training.position(job))
        yield {"status": status_html(f"Training “{config.name}”: {line}", job.status.fraction)}
        time.sleep(POLL_S)
    names = services.chat_models(owner)
    if job.metadata is None:
        message = job.status.message or "Training failed."
        yield {
            "train_btn": gr.update(interactive=True),
            "status": status_html(message, None, "failed"),
        }
        return
    yield trained(config, len(data.examples), chosen, current_model, names)


def trained(config: TrainConfig, examples: int, chosen, current_model, names: list[str]) -> dict:
    """The new adapter selected for evaluation (where it can be) and in the chat's selector."""
    picked = [*(chosen or []), f"adapter:{config.name}", f"adapter:{config.name}+rag"]
    valid = valid_configs(names)
    picked = [c for c in picked if c in valid]
    text = f"Adapter “{config.name}” trained on {examples} questions. " + (
        "It is selected below; evaluate it on the test split."
        if config.name in names  # with a model server, only once that server serves it
        else "Export it and serve it from the model server to evaluate it."
    )
    gr.Info(text)
    return {
        "train_btn": gr.update(interactive=True),
        "status": status_html(text, 1.0, "done"),
        "configs": gr.update(choices=config_choices(names), value=picked),
        "chat_model": model_selector_update(names, current_model),
    }


# -- saved runs --------------------------------------------------------------------------------
@plain_errors
def load_run(services, run_id, owner: str) -> dict:
    if not run_id:
        return {}
    return shown_run(services, services.evals.load(owner, run_id), owner)


@plain_errors
def compared(services, other_id, run, owner: str):
    if not other_id or not run:
        return gr.update(visible=False)
    rows = runner.compare(services.evals.load(owner, other_id), run)
    return gr.update(value=comparison_rows(rows), visible=True)


def selected(run, row: int) -> str:
    return question_detail(run, row) if run else ""
