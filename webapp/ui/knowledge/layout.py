"""The Knowledge base tab's components, built in page order and held in one `KnowledgeTab`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from webapp.ui.i18n import filled, i18n, say
from webapp.ui.knowledge.views import CHUNK_COLUMNS, DOC_COLUMNS, RESULT_COLUMNS

# The headers before the first event fills a table (in the visitor's language from then on).
DOC_HEADERS = [say("en", key) for key in DOC_COLUMNS]
RESULT_HEADERS = [say("en", key) for key in RESULT_COLUMNS]
CHUNK_HEADERS = [say("en", key) for key in CHUNK_COLUMNS]


@dataclass
class KnowledgeTab:
    """Every component the events read or update."""

    # upload
    files: gr.File
    results: gr.Dataframe
    # the interrupted-uploads notice
    notice_row: gr.Row
    notice: gr.Markdown
    dismiss: gr.Button
    # the documents
    docs: gr.Dataframe
    picked: gr.Dropdown
    show: gr.Button
    delete: gr.Button
    chunk_table: gr.Dataframe

    @property
    def listing(self) -> list:
        """What refreshing the document list updates (handlers.refresh)."""
        return [self.docs, self.picked, self.notice, self.notice_row]


def build(settings) -> KnowledgeTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            upload = upload_panel(settings)
        with gr.Column(scale=3):
            documents = documents_panel()
    return KnowledgeTab(**upload, **documents)


def upload_panel(settings) -> dict:
    files = gr.File(
        label=i18n("add_documents"),
        file_count="multiple",
        type="filepath",
        elem_id="upload",
        height=180,
    )
    gr.Markdown(filled("upload_hint", mb=f"{settings.max_upload_mb:g}"), elem_classes=["hint"])
    results = gr.Dataframe(
        headers=RESULT_HEADERS,
        value=None,
        label=i18n("last_upload"),
        interactive=False,
        wrap=True,
        column_widths=["35%", "65%"],
        elem_id="upload-results",
    )
    return dict(files=files, results=results)


def documents_panel() -> dict:
    """The interrupted-uploads notice, the document list, a document's chunks."""
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
    return dict(
        notice_row=notice_row,
        notice=notice,
        dismiss=dismiss,
        docs=docs,
        picked=picked,
        show=show,
        delete=delete,
        chunk_table=chunk_table,
    )
