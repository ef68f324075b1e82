"""What the Knowledge base tab's events do, as plain functions of (services, inputs...,
owner).

The owner is resolved by the caller (webapp.ui.knowledge.wiring, from the request). A
handler returns the values of its outputs. Domain errors reach the page as their plain
message (`plain_errors`); the page-load `refresh` keeps them raw for its when_signed_in."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from webapp.errors import StoreUnavailable
from webapp.ui.api import plain_errors
from webapp.ui.knowledge.views import (
    LIST_UNAVAILABLE,
    chunk_rows,
    document_choices,
    document_rows,
    interrupted_notice,
    upload_rows,
)


def refresh(services, owner: str) -> tuple:
    """(table, picker, notice, notice row) of the owner's documents and interrupted
    uploads; while the store is down, a warning and no change (see wiring.refresh)."""
    try:
        listed = services.knowledge.list_documents(owner)
    except StoreUnavailable as exc:  # down, or refusing the app's token
        from webapp.knowledge.store import UNREACHABLE

        gr.Warning(LIST_UNAVAILABLE if str(exc) == UNREACHABLE else str(exc))
        return (gr.skip(),) * 4
    choices = document_choices(listed)
    cut_short = services.knowledge.interrupted(owner)
    return (
        document_rows(listed),
        gr.update(choices=choices, value=choices[0][1] if choices else None),
        interrupted_notice(cut_short),
        gr.update(visible=bool(cut_short)),
    )


@plain_errors
def dismiss_notice(services, owner: str) -> tuple:
    services.knowledge.dismiss_interrupted(owner)
    return gr.update(value=""), gr.update(visible=False)


@plain_errors
def ingest(services, paths, owner: str, progress) -> tuple:
    """(results, the document list's four, the emptied file box): each file's result in
    plain words, a warning when some could not be indexed, then the list."""
    if not paths:
        return (gr.skip(),) * 6
    items = [(Path(p), Path(p).name) for p in paths]
    progress(0, desc="Starting")
    done = services.knowledge.ingest_files(owner, items, lambda f, what: progress(f, desc=what))
    failed = [r for r in done if not r.ok]
    if failed:
        gr.Warning(f"{len(failed)} of {len(done)} file(s) could not be indexed; see Last upload.")
    return upload_rows(done), *refresh(services, owner), None


@plain_errors
def remove(services, doc_id, owner: str) -> tuple:
    """(table, picker, the hidden chunk table) once the document is deleted."""
    if not doc_id:
        raise gr.Error("Choose a document to delete first.")
    info = services.knowledge.delete(owner, doc_id)
    gr.Info(f"Deleted {info.file}.")
    table, dropdown, *_ = refresh(services, owner)
    return table, dropdown, gr.update(visible=False, value=None)


@plain_errors
def show_chunks(services, doc_id, owner: str):
    if not doc_id:
        raise gr.Error("Choose a document first.")
    chunks = services.knowledge.chunks(owner, doc_id)
    return gr.update(value=chunk_rows(chunks), visible=True)
