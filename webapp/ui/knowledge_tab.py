"""The Knowledge base tab: upload with per-file progress and results, the document list,
delete, and a look at a document's chunks."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from webapp.errors import StoreUnavailable, WebappError
from webapp.ui.i18n import filled, i18n
from webapp.ui.identity import owner_of
from webapp.ui.render import escape_markdown, human_bytes, short_date

DOC_HEADERS = ["File", "Pages", "Chunks", "Size", "Added"]
RESULT_HEADERS = ["File", "Result"]
CHUNK_HEADERS = ["#", "Where", "Characters", "Text"]
LIST_UNAVAILABLE = (
    "Your documents cannot be listed right now: the document store is not reachable. "
    "They will show again once it is back."
)


def document_rows(docs) -> list[list]:
    return [
        [
            d.file,
            d.pages if d.pages is not None else "–",
            d.chunks,
            human_bytes(d.bytes),
            short_date(d.added),
        ]
        for d in docs
    ]


def document_choices(docs) -> list[tuple[str, str]]:
    return [(f"{d.file} · {short_date(d.added)}", d.id) for d in docs]


def interrupted_notice(records) -> str:
    """Uploads a server stop cut short, one line each (file names escaped: untrusted)."""
    from webapp.knowledge.recovery import INTERRUPTED

    return "\n".join(
        f"- {INTERRUPTED.format(file=escape_markdown(r['file']))} ({short_date(r['when'])})"
        for r in records
    )


def build_knowledge_tab(services) -> tuple:
    settings = services.settings
    kb = lambda: services.knowledge  # noqa: E731  (built on first use)

    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            files = gr.File(
                label=i18n("add_documents"),
                file_count="multiple",
                type="filepath",
                elem_id="upload",
                height=180,
            )
            gr.Markdown(
                filled("upload_hint", mb=f"{settings.max_upload_mb:g}"), elem_classes=["hint"]
            )
            results = gr.Dataframe(
                headers=RESULT_HEADERS,
                value=None,
                label=i18n("last_upload"),
                interactive=False,
                wrap=True,
                column_widths=["35%", "65%"],
                elem_id="upload-results",
            )
        with gr.Column(scale=3):
            with gr.Row(equal_height=True, visible=False) as notice_row:
                notice = gr.Markdown(elem_id="interrupted-uploads")
                dismiss = gr.Button(
                    i18n("dismiss_notice"), scale=0, min_width=100, elem_id="dismiss-interrupted"
                )
            docs = gr.Dataframe(
                headers=DOC_HEADERS,
                label=i18n("your_documents"),
                interactive=False,
                wrap=True,
                elem_id="documents",
            )
            with gr.Row(equal_height=True):
                picked = gr.Dropdown(
                    label=i18n("document_picker"), choices=[], scale=4, elem_id="picked-document"
                )
                show = gr.Button(i18n("show_chunks"), scale=1, min_width=120)
                delete = gr.Button(
                    i18n("delete_button"), variant="stop", scale=1, min_width=100, elem_id="delete"
                )
            chunk_table = gr.Dataframe(
                headers=CHUNK_HEADERS,
                label=i18n("chunks_table"),
                interactive=False,
                wrap=True,
                visible=False,
                max_height=480,
                column_widths=["6%", "20%", "14%", "60%"],
            )

    def refresh(request: gr.Request):
        """The document list. While the store is down it says so and leaves the page as it
        is, so an upload's or a delete's own result is never replaced by an error."""
        owner = owner_of(request, settings)
        try:
            listed = kb().list_documents(owner)
        except StoreUnavailable as exc:  # down, or refusing the app's token
            from webapp.knowledge.store import UNREACHABLE

            gr.Warning(LIST_UNAVAILABLE if str(exc) == UNREACHABLE else str(exc))
            return (gr.skip(),) * 4
        choices = document_choices(listed)
        cut_short = kb().interrupted(owner)
        return (
            document_rows(listed),
            gr.update(choices=choices, value=choices[0][1] if choices else None),
            interrupted_notice(cut_short),
            gr.update(visible=bool(cut_short)),
        )

    def dismiss_notice(request: gr.Request):
        kb().dismiss_interrupted(owner_of(request, settings))
        return gr.update(value=""), gr.update(visible=False)

    def ingest(paths, request: gr.Request, progress=gr.Progress()):
        if not paths:
            return (gr.skip(),) * 6
        items = [(Path(p), Path(p).name) for p in paths]
        progress(0, desc="Starting")
        try:
            owner = owner_of(request, settings)
            done = kb().ingest_files(owner, items, lambda f, what: progress(f, desc=what))
        except WebappError as exc:  # signed out, or a store that could not even be opened
            raise gr.Error(str(exc)) from exc
        rows = [[r.file, r.describe()] for r in done]
        failed = [r for r in done if not r.ok]
        if failed:
            gr.Warning(
                f"{len(failed)} of {len(done)} file(s) could not be indexed; see Last upload."
            )
        return rows, *refresh(request), None

    def remove(doc_id, request: gr.Request):
        if not doc_id:
            raise gr.Error("Choose a document to delete first.")
        try:
            info = kb().delete(owner_of(request, settings), doc_id)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Deleted {info.file}.")
        table, dropdown, *_ = refresh(request)
        return table, dropdown, gr.update(visible=False, value=None)

    def show_chunks(doc_id, request: gr.Request):
        if not doc_id:
            raise gr.Error("Choose a document first.")
        try:
            chunks = kb().chunks(owner_of(request, settings), doc_id)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        rows = [
            [
                c.index + 1,
                f"page {c.page}" if c.page is not None else (c.section or "–"),
                f"{c.start}–{c.end}" if c.start is not None else "–",
                c.text,
            ]
            for c in chunks
        ]
        return gr.update(value=rows, visible=True)

    files.upload(
        ingest,
        [files],
        [results, docs, picked, notice, notice_row, files],
        concurrency_id="ingest",
        concurrency_limit=1,
        api_visibility="private",
        show_progress="full",
    )
    delete.click(remove, [picked], [docs, picked, chunk_table], api_visibility="private")
    show.click(show_chunks, [picked], [chunk_table], api_visibility="private")
    dismiss.click(dismiss_notice, None, [notice, notice_row], api_visibility="private")
    return refresh, [docs, picked, notice, notice_row]
