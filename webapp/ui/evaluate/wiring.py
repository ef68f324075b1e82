"""The Evaluate tab's events: each resolves the owner (webapp.ui.identity.owner_of) and the
language (webapp.ui.i18n.language) from the request and calls its handler in
webapp.ui.evaluate.handlers."""

from __future__ import annotations

import gradio as gr

from webapp.ui.api import signed_in
from webapp.ui.evaluate import handlers
from webapp.ui.evaluate.layout import EvaluateTab
from webapp.ui.events import PRIVATE, always_after
from webapp.ui.i18n import language
from webapp.ui.identity import owner_of


def wire(services, ui: EvaluateTab):
    """Connects the events; returns (refresh, inputs, outputs) for the page load, and the
    (function, outputs) that shows the empty results tables in the visitor's language."""

    def owner(request) -> str:
        return signed_in(request, services.settings)

    def refresh(chosen_configs, request: gr.Request):
        # raw: the page load's when_signed_in skips the update for a visitor not signed in
        who = owner_of(request, services.settings)
        return handlers.refresh(services, chosen_configs, who)

    def blank_results(request: gr.Request):
        return handlers.blank_results(language(request))

    wire_question_sets(services, ui, owner)
    wire_runs(services, ui, owner)
    wire_training(services, ui, owner)
    wire_saved_runs(services, ui, owner)
    refreshed = [ui.saved, ui.configs, ui.runs, ui.compare_with]
    return refresh, [ui.configs], refreshed, (blank_results, [ui.results, ui.drill])


def wire_question_sets(services, ui: EvaluateTab, owner) -> None:
    def uploaded(file, request: gr.Request):
        return handlers.uploaded(file, language(request))

    def built(request: gr.Request, progress=gr.Progress()):
        return handlers.built(services, owner(request), progress, language(request))

    def split_table(frame, request: gr.Request):
        return handlers.split_table(frame, language(request))

    def saved_set(name, frame, request: gr.Request):
        return handlers.saved_set(services, name, frame, owner(request), language(request))

    def picked_set(name, request: gr.Request):
        return handlers.picked_set(services, name, owner(request), language(request))

    def removed_set(name, request: gr.Request):
        return handlers.removed_set(services, name, owner(request), language(request))

    loaded = [ui.table, ui.set_name, ui.summary]
    ui.upload.upload(uploaded, [ui.upload], loaded, **PRIVATE)
    ui.build.click(built, None, loaded, show_progress_on=[ui.table], **PRIVATE)
    ui.split_btn.click(split_table, [ui.table], [ui.table, ui.summary], **PRIVATE)
    ui.save.click(saved_set, [ui.set_name, ui.table], [ui.saved], **PRIVATE)
    ui.saved.input(picked_set, [ui.saved], loaded, **PRIVATE)
    ui.delete_set.click(removed_set, [ui.saved], [ui.saved], **PRIVATE)


def wire_runs(services, ui: EvaluateTab, owner) -> None:
    def evaluate(frame, name, chosen, which, request: gr.Request):
        who, lang = owner(request), language(request)
        for update in handlers.evaluate(services, frame, name, chosen, which, who, lang):
            yield ui.keyed(update)

    def evaluate_test(frame, name, chosen, request: gr.Request):
        who, lang = owner(request), language(request)
        for update in handlers.evaluate_test(services, frame, name, chosen, who, lang):
            yield ui.keyed(update)

    def stop(current_job, request: gr.Request):
        return handlers.stop(services, current_job, owner(request), language(request))

    run_outputs = [ui.job_id, ui.run_btn, ui.test_btn, ui.cancel, ui.status, ui.split, *ui.shown]
    options = dict(
        concurrency_id="evaluation",
        concurrency_limit=None,
        show_progress="minimal",
        show_progress_on=[ui.status],
        **PRIVATE,
    )
    question_set = [ui.table, ui.set_name, ui.configs]
    running = ui.run_btn.click(evaluate, [*question_set, ui.split], run_outputs, **options)
    testing = ui.test_btn.click(evaluate_test, question_set, run_outputs, **options)
    for event in (running, testing):
        always_after(
            event,
            lambda: (
                gr.update(visible=True),
                gr.update(visible=False),
                gr.update(interactive=True),
            ),
            [ui.run_btn, ui.cancel, ui.test_btn],
        )
    ui.cancel.click(
        stop,
        [ui.job_id],
        [ui.cancel],
        concurrency_id="evaluation-control",
        concurrency_limit=None,
        **PRIVATE,
    )


def wire_training(services, ui: EvaluateTab, owner) -> None:
    def train_split(frame, name, chosen, current_model, request: gr.Request):
        who, lang = owner(request), language(request)
        for update in handlers.train_split(services, frame, name, chosen, current_model, who, lang):
            yield ui.keyed(update)

    training = ui.train_btn.click(
        train_split,
        [ui.table, ui.set_name, ui.configs, ui.chat_model],
        [ui.train_btn, ui.status, ui.configs, ui.chat_model],
        concurrency_id="training",
        concurrency_limit=None,
        show_progress="minimal",
        show_progress_on=[ui.status],
        **PRIVATE,
    )
    always_after(training, lambda: gr.update(interactive=True), [ui.train_btn])


def wire_saved_runs(services, ui: EvaluateTab, owner) -> None:
    def load_run(run_id, request: gr.Request):
        shown = handlers.load_run(services, run_id, owner(request), language(request))
        return ui.keyed(shown)

    def compared(other_id, run, request: gr.Request):
        return handlers.compared(services, other_id, run, owner(request), language(request))

    def selected(run, evt: gr.SelectData, request: gr.Request):
        return handlers.selected(run, evt.index[0], language(request))

    ui.runs.input(load_run, [ui.runs], ui.shown, **PRIVATE)
    ui.compare_with.input(compared, [ui.compare_with, ui.current], [ui.comparison], **PRIVATE)
    ui.drill.select(selected, [ui.current], [ui.detail], **PRIVATE)
