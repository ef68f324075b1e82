"""Named API endpoints for programs (gradio_client), beside the UI's own events.

/chat streams JSON snapshots of the answer; /upload indexes files; /list_documents and
/delete_document manage the knowledge base. The owner comes from the server side.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from webapp.chat.service import ChatOptions
from webapp.errors import WebappError
from webapp.ui.i18n import language, say
from webapp.ui.identity import NOT_SIGNED_IN, owner_of
from webapp.users import NotSignedIn

log = logging.getLogger(__name__)


def plain_errors(fn):
    """Domain errors (a server down, say) reach API callers as their plain message; a
    generator's too, whenever one is raised while it streams."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                return (yield from fn(*args, **kwargs))
            except WebappError as exc:
                raise gr.Error(str(exc)) from exc

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc

    return call


@plain_errors
def signed_in(request: gr.Request | None, settings) -> str:
    """The request's owner; a caller not signed in (an expired session) reads why, in the
    page's language."""
    try:
        return owner_of(request, settings)
    except NotSignedIn as exc:
        if settings.auth not in NOT_SIGNED_IN:
            raise
        raise gr.Error(say(language(request), NOT_SIGNED_IN[settings.auth])) from exc


def build_api(services) -> None:
    """The named endpoints, one function per group."""
    chat_api(services)
    listing_api(services)
    deleting_api(services)
    upload_api(services)


def chat_api(services) -> None:
    settings = services.settings

    def chat(
        question: str,
        use_rag: bool = True,
        top_k: int = settings.top_k,
        temperature: float = settings.temperature,
        max_new_tokens: int = settings.max_new_tokens,
        adapter: str = "",
        documents: list[str] | None = None,
        file_types: list[str] | None = None,
        request: gr.Request = None,
    ) -> Iterator[dict]:
        """Answer a question from your documents. Yields {"answer", "sources", "rag", "adapter",
        "grounded"} as the answer grows; the last one is complete. `documents` (ids from
        /list_documents) and `file_types` (file kinds such as pdf, docx, text: the kinds in
        webapp.knowledge.formats.FORMATS) keep the search inside those documents or kinds."""
        if not question or not question.strip():
            raise gr.Error("The question is empty.")
        try:
            options = ChatOptions(
                bool(use_rag),
                top_k,
                temperature,
                max_new_tokens,
                adapter or None,
                documents=tuple(documents or ()),
                file_types=tuple(file_types or ()),
            ).checked()
            owner = signed_in(request, settings)
            services.chat_limit.check(owner)
            for answer in services.chat.stream(owner, question, [], options):
                yield answer.as_dict()
        except (WebappError, gr.Error):
            raise  # its plain message (plain_errors), "Please sign in first" among them
        except Exception as exc:
            log.exception("API chat failed")
            raise gr.Error("Something went wrong while answering. Please try again.") from exc

    gr.api(plain_errors(chat), api_name="chat", concurrency_id="model", concurrency_limit=1)


def listing_api(services) -> None:
    settings = services.settings

    def list_documents(request: gr.Request = None) -> list[dict]:
        """Your documents: id, file, chunks, pages, bytes, added."""
        docs = services.knowledge.list_documents(owner_of(request, settings))
        return [d.as_dict() for d in docs]

    def list_adapters(request: gr.Request = None) -> list[dict]:
        """Your adapters (name, method, dataset, epochs, losses, ...), or with a model server
        (WEBAPP_LLM_BASE_URL) the adapters it serves ({name, source: "model server"}); pass
        a name as `adapter` to /chat to answer with it."""
        owner = owner_of(request, settings)
        if settings.llm_base_url:  # adapters live on the server, shared by every user
            return [{"name": n, "source": "model server"} for n in services.served_adapters()]
        return [a.summary() for a in services.adapters.list(owner)]

    gr.api(plain_errors(list_documents), api_name="list_documents")
    gr.api(plain_errors(list_adapters), api_name="list_adapters")


def deleting_api(services) -> None:
    settings = services.settings

    def delete_document(doc_id: str, request: gr.Request = None) -> dict:
        """Delete one document (all its chunks and its stored original)."""
        info = services.knowledge.delete(owner_of(request, settings), doc_id)
        return {"deleted": info.id, "file": info.file}

    def delete_my_data(confirm: str, request: gr.Request = None) -> dict:
        """Delete everything of yours (documents, adapters, question sets, evaluation runs).
        Pass confirm="delete everything"; returns how many of each were deleted."""
        if confirm != "delete everything":
            raise gr.Error('Nothing deleted: pass confirm="delete everything".')
        return services.accounts.delete(owner_of(request, settings))

    ingest = dict(concurrency_id="ingest", concurrency_limit=1)
    gr.api(plain_errors(delete_document), api_name="delete_document", **ingest)
    gr.api(plain_errors(delete_my_data), api_name="delete_my_data", **ingest)


def upload_api(services) -> None:
    def upload(files: list[str] | None, request: gr.Request) -> list[dict]:
        owner = owner_of(request, services.settings)
        items = [(Path(p), Path(p).name) for p in files or []]
        results = services.knowledge.ingest_files(owner, items)
        return [
            {
                "file": r.file,
                "status": r.status,
                "chunks": r.chunks,
                "message": r.message,
                "id": r.doc_id,
            }
            for r in results
        ]

    # Files need a File component to travel through the API; these two stay hidden in the UI.
    picker = gr.File(file_count="multiple", type="filepath", visible=False, label="files")
    report = gr.JSON(visible=False, label="results")
    picker.upload(
        plain_errors(upload),
        [picker],
        [report],
        api_name="upload",
        api_description="Index files; returns one {file, status, chunks, message, id} per file.",
        concurrency_id="ingest",
        concurrency_limit=1,
    )
