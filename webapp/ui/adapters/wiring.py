"""The Adapters tab's events: each resolves the owner (webapp.ui.identity.owner_of) and the
language (webapp.ui.i18n.language) from the request and calls its handler in
webapp.ui.adapters.handlers."""

from __future__ import annotations

import gradio as gr

from webapp.ui.adapters import handlers
from webapp.ui.adapters.layout import AdaptersTab
from webapp.ui.api import signed_in
from webapp.ui.events import PRIVATE, always_after
from webapp.ui.i18n import language
from webapp.ui.identity import owner_of


def wire(services, ui: AdaptersTab):
    """Connects the events; returns (refresh, inputs, outputs) for the page load."""

    def owner(request) -> str:
        return signed_in(request, services.settings)

    def refresh(current_model, request: gr.Request):
        # raw: the page load's when_signed_in skips the update for a visitor not signed in
        who = owner_of(request, services.settings)
        return handlers.refresh(services, current_model, who, language(request))

    wire_form(ui)
    wire_training(services, ui, owner)
    wire_adapters(services, ui, owner)
    return refresh, [ui.chat_model], ui.listing


def wire_form(ui: AdaptersTab) -> None:
    ui.source.change(
        handlers.source_changed,
        [ui.source, ui.method],
        [ui.file, ui.method],
        queue=False,
        **PRIVATE,
    )
    ui.method.change(
        handlers.method_changed,
        ui.method,
        [ui.lora_row, ui.target, ui.virtual_tokens, ui.lr],
        queue=False,
        **PRIVATE,
    )


def wire_training(services, ui: AdaptersTab, owner) -> None:
    def train(values: dict, request: gr.Request):
        """`values`: {component: value} of the form; see `train_inputs` below."""
        who = owner(request)
        form = {field: values[c] for field, c in ui.fields.items()}
        source, path, current_model = values[ui.source], values[ui.file], values[ui.chat_model]
        lang = language(request)
        for update in handlers.train(services, form, source, path, current_model, who, lang):
            yield ui.keyed(update)

    def cancel(current_job, request: gr.Request):
        return handlers.cancel(services, current_job, owner(request), language(request))

    train_inputs = {*ui.fields.values(), ui.source, ui.file, ui.chat_model}
    train_outputs = [ui.job_id, ui.train, ui.cancel, ui.status, ui.plot, *ui.listing]
    training = ui.train.click(
        train,
        train_inputs,
        train_outputs,
        concurrency_id="training",  # never "model": the chat must keep answering
        concurrency_limit=None,
        show_progress="minimal",  # the status line and its bar say more than a spinner
        show_progress_on=[ui.status],
        **PRIVATE,
    )
    always_after(
        training,
        lambda: (gr.update(visible=True), gr.update(visible=False)),
        [ui.train, ui.cancel],
    )
    ui.cancel.click(
        cancel,
        [ui.job_id],
        [ui.cancel],
        concurrency_id="training-control",
        concurrency_limit=None,
        **PRIVATE,
    )


def wire_adapters(services, ui: AdaptersTab, owner) -> None:
    def remove(name, current_model, request: gr.Request):
        who, lang = owner(request), language(request)
        return handlers.remove(services, name, current_model, who, lang)

    def export(name, request: gr.Request):
        return handlers.export(services, name, owner(request), language(request))

    def import_zip(path, current_model, request: gr.Request):
        who, lang = owner(request), language(request)
        return handlers.import_zip(services, path, current_model, who, lang)

    listing = ui.listing
    ui.delete.click(remove, [ui.picked, ui.chat_model], [*listing, ui.download], **PRIVATE)
    ui.export.click(export, [ui.picked], [ui.download], **PRIVATE)
    imported = ui.upload.upload(import_zip, [ui.upload, ui.chat_model], listing, **PRIVATE)
    always_after(imported, lambda: None, [ui.upload])  # ready for the next one
