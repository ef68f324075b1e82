"""The Knowledge base tab's events: each resolves the owner (webapp.ui.identity.owner_of) and
the language (webapp.ui.i18n.language) from the request and calls its handler in
webapp.ui.knowledge.handlers."""

from __future__ import annotations

import gradio as gr

from webapp.ui.api import signed_in
from webapp.ui.events import PRIVATE
from webapp.ui.i18n import language
from webapp.ui.identity import owner_of
from webapp.ui.knowledge import handlers
from webapp.ui.knowledge.layout import KnowledgeTab


def wire(services, ui: KnowledgeTab) -> tuple:
    """Connects the events; returns (refresh, outputs) for the page load, and the (function,
    outputs) that shows the empty Last upload table in the visitor's language."""
    settings = services.settings

    def refresh(request: gr.Request):
        """The document list. While the store is down it says so and leaves the page as it
        is, so an upload's or a delete's own result is never replaced by an error."""
        # raw: the page load's when_signed_in skips the update for a visitor not signed in
        return handlers.refresh(services, owner_of(request, settings), language(request))

    def blank_results(request: gr.Request):
        return handlers.blank_results(language(request))

    def dismiss_notice(request: gr.Request):
        return handlers.dismiss_notice(services, signed_in(request, settings))

    def ingest(paths, request: gr.Request, progress=gr.Progress()):
        owner = signed_in(request, settings)
        return handlers.ingest(services, paths, owner, progress, language(request))

    def remove(doc_id, request: gr.Request):
        return handlers.remove(services, doc_id, signed_in(request, settings), language(request))

    def show_chunks(doc_id, request: gr.Request):
        owner = signed_in(request, settings)
        return handlers.show_chunks(services, doc_id, owner, language(request))

    ui.files.upload(
        ingest,
        [ui.files],
        [ui.results, *ui.listing, ui.files],
        concurrency_id="ingest",
        concurrency_limit=1,
        show_progress="full",
        **PRIVATE,
    )
    ui.delete.click(remove, [ui.picked], [ui.docs, ui.picked, ui.chunk_table], **PRIVATE)
    ui.show.click(show_chunks, [ui.picked], [ui.chunk_table], **PRIVATE)
    ui.dismiss.click(dismiss_notice, None, [ui.notice, ui.notice_row], **PRIVATE)
    return refresh, ui.listing, (blank_results, [ui.results])
