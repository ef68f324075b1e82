"""The Chat tab: streamed answers with numbered citations and their sources underneath.

The conversation lives in a per-session gr.State (plain text turns, what the model sees);
the Chatbot only displays it. Stop cancels the streaming event, which ends generation.
The model selector (base model or one of the owner's adapters) is a per-session value too;
the Adapters tab refreshes its choices.
"""

from __future__ import annotations

import html
import logging

import gradio as gr

from webapp.chat.service import LIMITS, Answer, ChatOptions
from webapp.errors import WebappError
from webapp.knowledge.formats import FORMATS
from webapp.ui.i18n import EN, i18n
from webapp.ui.identity import owner_of
from webapp.ui.render import evidence_line, safe_answer, short_date, sources_markdown

log = logging.getLogger(__name__)

# A format's own label (PDF, Word...), or its translation where i18n has "kind_<kind>" ("Text").
KIND_LABELS = {
    f.kind: i18n(f"kind_{f.kind}") if f"kind_{f.kind}" in EN else f.label for f in FORMATS
}
BASE_MODEL = "Base model"  # the selector's value: has a space, so it is never an adapter's name
BASE_CHOICE = (i18n("base_model"), BASE_MODEL)


def model_selector_update(names: list[str], current: str | None) -> dict:
    """Choices for the model selector; keeps the session's pick while it still exists."""
    return gr.update(
        choices=[BASE_CHOICE, *names], value=current if current in names else BASE_MODEL
    )


def adapter_of(choice: str | None) -> str | None:
    return None if not choice or choice == BASE_MODEL else choice


def always_after(event, fn, outputs) -> None:
    """Run `fn` once the event has ended, whether it succeeded or raised: in Gradio 6 `.then`
    is skipped after an error, and only `.failure` listeners run then."""
    for follow in (event.then, event.failure):
        follow(fn, None, outputs, api_visibility="private", queue=False)


def answer_messages(answer: Answer) -> list[dict]:
    text = safe_answer(answer.answer) if answer.answer else "…"
    if answer.done and (quote := evidence_line(answer.sources, answer.evidence)):
        text += f"\n\n<small>Evidence {quote}</small>"
    if answer.adapter:  # a small line under the answer: which adapter wrote it
        name = html.escape(answer.adapter)
        text += f"\n\n<small>Answered by adapter <code>{name}</code></small>"
    elif answer.reader and answer.done:
        text += "\n\n<small>Answered by the built-in reader</small>"
    if answer.grounded is False:
        text += (
            "\n\n<small>⚠ Not found in the cited passages: check the sources before "
            "relying on this answer.</small>"
        )
    messages = [{"role": "assistant", "content": text}]
    if answer.sources:
        files = ", ".join(dict.fromkeys(s.file for s in answer.sources))
        n = len(answer.sources)
        messages.append(
            {
                "role": "assistant",
                "content": sources_markdown(answer.sources, answer.evidence),
                "metadata": {
                    "title": f"Sources ({n}): {files}"[:160],
                    "status": "done",  # folded: the title lists the files, a click shows passages
                },
            }
        )
    return messages


def build_chat_tab(services) -> tuple:
    """Builds the tab; returns the model selector (the Adapters tab refreshes its choices)
    and the (function, inputs, outputs) that refreshes the search-scope pickers."""
    settings = services.settings
    turns = gr.State([])  # [{"role", "content"}] in plain text, per browser session
    with gr.Row(equal_height=False, elem_id="chat-row"):
        with gr.Column(scale=4):
            chatbot = gr.Chatbot(
                label=i18n("chatbot_label"),
                height=560,
                placeholder=i18n("chat_placeholder"),
                elem_id="chatbot",
                buttons=["copy"],
                feedback_options=None,
                layout="bubble",
            )
            with gr.Row(elem_id="ask-row"):
                question = gr.Textbox(
                    placeholder=i18n("question_placeholder"),
                    show_label=False,
                    scale=8,
                    max_lines=6,
                    autofocus=True,
                    elem_id="question",
                )
                send = gr.Button(
                    i18n("chat_send"), variant="primary", scale=1, min_width=90, elem_id="send"
                )
                stop = gr.Button(
                    i18n("chat_stop"),
                    variant="stop",
                    scale=1,
                    min_width=90,
                    visible=False,
                    elem_id="stop",
                )
        with gr.Column(scale=1, min_width=260, elem_id="chat-side"):
            model = gr.Dropdown(
                choices=[BASE_CHOICE],
                value=BASE_MODEL,
                label=i18n("model_picker"),
                info=i18n("model_picker_info"),
                elem_id="model-picker",
            )
            use_rag = gr.Checkbox(
                True,
                label=i18n("use_documents"),
                info=i18n("use_documents_info"),
                elem_id="use-rag",
            )
            documents = gr.Dropdown(
                choices=[],
                value=[],
                multiselect=True,
                label=i18n("search_only_in"),
                info=i18n("search_only_in_info"),
                elem_id="search-documents",
            )
            file_types = gr.Dropdown(
                choices=[],
                value=[],
                multiselect=True,
                label=i18n("search_file_types"),
                info=i18n("search_file_types_info"),
                elem_id="search-types",
            )
            with gr.Accordion(i18n("generation_settings"), open=False):
                temperature = gr.Slider(
                    0.0,
                    1.5,
                    value=settings.temperature,
                    step=0.05,
                    label=i18n("temperature"),
                    info=i18n("temperature_info"),
                )
                max_new = gr.Slider(
                    16,
                    LIMITS["max_new_tokens"][1],
                    value=settings.max_new_tokens,
                    step=16,
                    label=i18n("max_new_tokens"),
                )
                top_k = gr.Slider(
                    *LIMITS["top_k"],
                    value=settings.top_k,
                    step=1,
                    label=i18n("sources_per_question"),
                )
            clear = gr.Button(i18n("new_chat"), variant="secondary")

    def respond(
        message, shown, history, rag, temp, max_tokens, k, choice, docs, kinds, request: gr.Request
    ):
        message = (message or "").strip()
        if not message:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            owner = owner_of(request, settings)
            services.chat_limit.check(owner)
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        shown = list(shown or []) + [{"role": "user", "content": safe_answer(message)}]
        options = ChatOptions(
            bool(rag),
            int(k),
            float(temp),
            int(max_tokens),
            adapter_of(choice),
            documents=tuple(docs or ()),
            file_types=tuple(kinds or ()),
        )
        base = list(history or [])
        yield "", shown, base, gr.update(visible=False), gr.update(visible=True)
        try:
            for answer in services.chat.stream(owner, message, base, options):
                turns_now = base + [
                    {"role": "user", "content": message},
                    {"role": "assistant", "content": answer.answer},
                ]
                yield gr.skip(), shown + answer_messages(answer), turns_now, gr.skip(), gr.skip()
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:
            log.exception("chat failed")
            raise gr.Error("Something went wrong while answering. Please try again.") from exc

    inputs = [
        question,
        chatbot,
        turns,
        use_rag,
        temperature,
        max_new,
        top_k,
        model,
        documents,
        file_types,
    ]
    outputs = [question, chatbot, turns, send, stop]
    common = dict(concurrency_id="model", concurrency_limit=1, api_visibility="private")
    events = [
        send.click(respond, inputs, outputs, **common),
        question.submit(respond, inputs, outputs, **common),
    ]
    for event in events:  # after an error the buttons must come back too
        always_after(
            event, lambda: (gr.update(visible=True), gr.update(visible=False)), [send, stop]
        )
    stop.click(
        lambda: (gr.update(visible=True), gr.update(visible=False)),
        None,
        [send, stop],
        cancels=events,
        api_visibility="private",
        queue=False,
    )
    clear.click(lambda: ([], []), None, [chatbot, turns], api_visibility="private", queue=False)
    # The chat box's own trash button must forget the conversation too, not just hide it.
    chatbot.clear(lambda: [], None, [turns], api_visibility="private", queue=False)

    def scope_choices(picked_docs, picked_kinds, request: gr.Request):
        """The owner's documents and file kinds; keeps picks that still exist."""
        docs = services.knowledge.list_documents(owner_of(request, settings))
        ids = [(f"{d.file} · {short_date(d.added)}", d.id) for d in docs]
        kinds = [(KIND_LABELS.get(k, k), k) for k in sorted({d.kind for d in docs if d.kind})]
        keep_docs = [v for v in picked_docs or [] if v in {i for _, i in ids}]
        keep_kinds = [v for v in picked_kinds or [] if v in {k for _, k in kinds}]
        return (
            gr.update(choices=ids, value=keep_docs),
            gr.update(choices=kinds, value=keep_kinds, visible=len(kinds) > 1 or bool(keep_kinds)),
        )

    return model, (scope_choices, [documents, file_types], [documents, file_types])
