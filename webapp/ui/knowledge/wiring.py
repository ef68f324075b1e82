"""The Knowledge base tab's events: each resolves the owner from the request
(webapp.ui.identity.owner_of) and calls its handler in webapp.ui.knowledge.handlers."""

from __future__ import annotations

import gradio as gr

from webapp.ui.api import signed_in
from webapp.ui.events import PRIVATE
from webapp.ui.identity import owner_of
from webapp.ui.knowledge import handlers
from webapp.ui.knowledge.layout import KnowledgeTab


def wire(services, ui: KnowledgeTab) -> tuple:
    """Connects the events; returns (refresh, outputs) for the page load."""
    settings = services.settings

    def refresh(request: gr.Request):
        """The document list. While the store is down it says so and leaves the page as it
        is, so an upload's or a delete's own result is never replaced by an error."""
        # raw: the page load's when_signed_in skips the update for a visitor not signed in
        return handlers.refresh(services, owner_of(request, settings))

    def dismiss_notice(request: gr.Request):
        return handlers.dismiss_notice(services, signed_in(request, settings))

    def ingest(paths, request: gr.Request, progress=gr.Progress()):
        return handlers.ingest(services, paths, signed_in(request, settings), progress)

    def remove(doc_id, request: gr.Request):
        return handlers.remove(services, doc_id, signed_in(request, settings))

    def show_chunks(doc_id, request: gr.Request):
        return handlers.show_chunks(services, doc_id, signed_in(request, settings))

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
    return refresh, ui.listing
