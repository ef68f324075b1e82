"""What the Knowledge base tab's events do, as plain functions of (services, inputs...,
owner), in the visitor's language `lang` (webapp.ui.i18n.language).

The owner and the language are resolved by the caller (webapp.ui.knowledge.wiring, from the
request). A handler returns the values of its outputs. Domain errors reach the page as
their plain message (`plain_errors`); the page-load `refresh` keeps them raw for its
when_signed_in."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from webapp.errors import StoreUnavailable
from webapp.ui.api import plain_errors
from webapp.ui.i18n import say
from webapp.ui.knowledge.views import (
    RESULT_COLUMNS,
    chunk_table,
    document_choices,
    document_table,
    interrupted_notice,
    upload_table,
)
from webapp.ui.render import table


def refresh(services, owner: str, lang: str = "en") -> tuple:
    """(table, picker, notice, notice row) of the owner's documents and interrupted
    uploads; while the store is down, a warning and no change (see wiring.refresh)."""
    try:
        listed = services.knowledge.list_documents(owner)
    except StoreUnavailable as exc:  # down, or refusing the app's token
        from webapp.knowledge.store import UNREACHABLE

        gr.Warning(say(lang, "list_unavailable") if str(exc) == UNREACHABLE else str(exc))
        return (gr.skip(),) * 4
    choices = document_choices(listed)
    cut_short = services.knowledge.interrupted(owner)
    return (
        document_table(listed, lang),
        gr.update(choices=choices, value=choices[0][1] if choices else None),
        interrupted_notice(cut_short, lang),
        gr.update(visible=bool(cut_short)),
    )


def blank_results(lang: str = "en") -> dict:
    """The empty Last upload table, its headers in the visitor's language (on page load)."""
    return table(lang, RESULT_COLUMNS, [])


@plain_errors
def dismiss_notice(services, owner: str) -> tuple:
    services.knowledge.dismiss_interrupted(owner)
    return gr.update(value=""), gr.update(visible=False)


@plain_errors
def ingest(services, paths, owner: str, progress, lang: str = "en") -> tuple:
    """(results, the document list's four, the emptied file box): each file's result in
    plain words, a warning when some could not be indexed, then the list."""
    if not paths:
        return (gr.skip(),) * 6
    items = [(Path(p), Path(p).name) for p in paths]
    progress(0, desc=say(lang, "upload_starting"))
    done = services.knowledge.ingest_files(owner, items, lambda f, what: progress(f, desc=what))
    failed = [r for r in done if not r.ok]
    if failed:
        gr.Warning(say(lang, "upload_some_failed", failed=len(failed), total=len(done)))
    return upload_table(done, lang), *refresh(services, owner, lang), None


@plain_errors
def remove(services, doc_id, owner: str, lang: str = "en") -> tuple:
    """(table, picker, the hidden chunk table) once the document is deleted."""
    if not doc_id:
        raise gr.Error(say(lang, "choose_document_to_delete"))
    info = services.knowledge.delete(owner, doc_id)
    gr.Info(say(lang, "deleted_document", file=info.file))
    listed, dropdown, *_ = refresh(services, owner, lang)
    return listed, dropdown, gr.update(visible=False, value=None)


@plain_errors
def show_chunks(services, doc_id, owner: str, lang: str = "en"):
    if not doc_id:
        raise gr.Error(say(lang, "choose_document"))
    chunks = services.knowledge.chunks(owner, doc_id)
    return gr.update(value=chunk_table(chunks, lang), visible=True)
