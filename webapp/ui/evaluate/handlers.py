"""What the Evaluate tab's events do, as plain functions of (services, inputs..., owner),
in the visitor's language `lang` (webapp.ui.i18n.language).

The owner and the language are resolved by the caller (webapp.ui.evaluate.wiring, from the
request). A
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
    RESULT_COLUMNS,
    blank_drilldown,
    chart,
    comparison_table,
    config_choices,
    drilldown_frame,
    export_files,
    items_frame,
    items_from_frame,
    question_detail,
    results_table,
    set_summary,
    valid_configs,
)
from webapp.ui.i18n import say
from webapp.ui.render import table

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


def blank_results(lang: str = "en") -> tuple:
    """The empty scores table and drill-down, their headers in the visitor's language."""
    return table(lang, RESULT_COLUMNS, []), blank_drilldown(lang)


def shown_run(services, run: dict, owner: str, lang: str = "en") -> dict:
    csv_path, json_path = export_files(run)
    choices = run_choices(services, owner)
    return {
        "current": run,
        "results": results_table(run, lang),
        "plot": gr.update(value=chart(run, lang), visible=True),
        "drill": drilldown_frame(run, lang),
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
def uploaded(file, lang: str = "en"):
    if not file:
        return gr.skip(), gr.skip(), gr.skip()
    path = Path(file if isinstance(file, str) else file.name)
    qaset = qasets.load_file(path, path.name)
    gr.Info(say(lang, "questions_loaded", n=len(qaset.items)))
    name = qasets.safe_set_name(qaset.name)
    return items_frame(qaset.items), name, set_summary(qaset.items, lang)


@plain_errors
def built(services, owner: str, progress, lang: str = "en"):
    def reading(fraction, what):
        progress(fraction, desc=say(lang, "reading_document", what=what))

    items = services.questions.build(owner, progress=reading)
    items = qasets.split_by_document(items) if len({i.source for i in items}) > 1 else items
    gr.Info(say(lang, "questions_made", n=len(items)))
    return items_frame(items), "from-my-documents", set_summary(items, lang)


def split_table(frame, lang: str = "en"):
    items = qasets.split_by_document(items_from_frame(frame, lang))
    return items_frame(items), set_summary(items, lang)


@plain_errors
def saved_set(services, name, frame, owner: str, lang: str = "en"):
    items = items_from_frame(frame, lang)
    services.qasets.save(owner, QASet(str(name or "").strip(), items))
    gr.Info(say(lang, "set_saved", name=name))
    return gr.update(choices=services.qasets.list(owner), value=name)


@plain_errors
def picked_set(services, name, owner: str, lang: str = "en"):
    if not name:
        return gr.skip(), gr.skip(), gr.skip()
    qaset = services.qasets.load(owner, name)
    return items_frame(qaset.items), name, set_summary(qaset.items, lang)


@plain_errors
def removed_set(services, name, owner: str, lang: str = "en"):
    if not name:
        raise gr.Error(say(lang, "choose_set_to_delete"))
    services.qasets.delete(owner, name)
    gr.Info(say(lang, "set_deleted", name=name))
    return gr.update(choices=services.qasets.list(owner), value=None)


# -- running ---------------------------------------------------------------------------------
@plain_errors
def start(services, frame, name, chosen, which, owner: str, lang: str = "en"):
    """The evaluation of the table's `which` split, submitted as a background job."""
    if not chosen:
        raise gr.Error(say(lang, "choose_configuration"))
    configs = [runner.EvalConfig.parse(c) for c in chosen]
    items = QASet(name or "table", items_from_frame(frame, lang)).only(which)

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


def evaluate(services, frame, name, chosen, which, owner: str, lang: str = "en"):
    """Starts the run, then its progress while it runs (the domain's words), then its
    results."""
    job = start(services, frame, name, chosen, which, owner, lang)
    yield {
        "job_id": job.id,
        "run_btn": gr.update(visible=False),
        "test_btn": gr.update(interactive=False),
        "cancel": gr.update(visible=True, interactive=True),
        "status": status_html(say(lang, "starting"), 0.0),
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
    status = status_html(done_message(run, lang), 1.0, "done")
    yield {**done, "status": status, **shown_run(services, run, owner, lang)}


def done_message(run: dict, lang: str = "en") -> str:
    best = max(run["configs"], key=lambda c: c["contains"])
    seconds, share = f"{run['seconds']:.0f}", f"{best['contains']:.0%}"
    return say(
        lang, "eval_done", n=run["questions"], seconds=seconds, best=best["label"], share=share
    )


def evaluate_test(services, frame, name, chosen, owner: str, lang: str = "en"):
    yield {"split": "test"}
    yield from evaluate(services, frame, name, chosen, "test", owner, lang)


def stop(services, current_job, owner: str, lang: str = "en"):
    if current_job:
        with contextlib.suppress(WebappError):
            services.eval_jobs.cancel(owner, current_job)
        gr.Info(say(lang, "stopping_evaluation"))
    return gr.update(interactive=False)


# -- training an adapter on the training split -------------------------------------------------
@plain_errors
def submit_training(services, frame, name, owner: str, lang: str = "en"):
    """(config, training set, job) of an adapter trained on the table's training split."""
    items = QASet(name or "questions", items_from_frame(frame, lang))
    data = qasets.training_set(items.only("train"), f"{name or 'questions'} (train split)")
    config = TrainConfig(name=unused_name(services, owner, f"{name or 'questions'}-adapter"))
    return config, data, services.training.submit(owner, config, data)


def train_split(services, frame, name, chosen, current_model, owner: str, lang: str = "en"):
    config, data, job = submit_training(services, frame, name, owner, lang)
    yield {
        "train_btn": gr.update(interactive=False),
        "status": status_html(say(lang, "training_adapter", name=config.name), 0.0),
    }
    while not job.finished:
        line = status_line(job, services.training.position(job), lang)
        text = say(lang, "training_named", name=config.name, line=line)
        yield {"status": status_html(text, job.status.fraction)}
        time.sleep(POLL_S)
    names = services.chat_models(owner)
    if job.metadata is None:
        message = job.status.message or say(lang, "training_failed")
        yield {
            "train_btn": gr.update(interactive=True),
            "status": status_html(message, None, "failed"),
        }
        return
    yield trained(config, len(data.examples), chosen, current_model, names, lang)


def trained(
    config: TrainConfig, examples: int, chosen, current_model, names: list[str], lang: str = "en"
) -> dict:
    """The new adapter selected for evaluation (where it can be) and in the chat's selector."""
    picked = [*(chosen or []), f"adapter:{config.name}", f"adapter:{config.name}+rag"]
    valid = valid_configs(names)
    picked = [c for c in picked if c in valid]
    text = say(lang, "split_adapter_trained", name=config.name, n=examples) + say(
        lang,
        "split_adapter_selected"
        if config.name in names  # with a model server, only once that server serves it
        else "split_adapter_export",
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
def load_run(services, run_id, owner: str, lang: str = "en") -> dict:
    if not run_id:
        return {}
    return shown_run(services, services.evals.load(owner, run_id), owner, lang)


@plain_errors
def compared(services, other_id, run, owner: str, lang: str = "en"):
    if not other_id or not run:
        return gr.update(visible=False)
    rows = runner.compare(services.evals.load(owner, other_id), run)
    return gr.update(value=comparison_table(rows, lang), visible=True)


def selected(run, row: int, lang: str = "en") -> str:
    return question_detail(run, row, lang) if run else ""
