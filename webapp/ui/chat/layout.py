"""The Chat tab's components, built in page order and held in one `ChatTab`."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from webapp.chat.service import LIMITS
from webapp.ui.chat.views import BASE_CHOICE, BASE_MODEL
from webapp.ui.i18n import i18n


@dataclass
class ChatTab:
    """Every component the events read or update."""

    turns: gr.State  # [{"role", "content"}] in plain text, per browser session
    answers: gr.State  # each answered turn as data, for its 👍/👎 (ui.chat.feedback)
    disliked: gr.State  # the id of the last 👎 the "Better answer" box attaches to
    # the conversation
    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    stop: gr.Button
    better_row: gr.Row  # shown after a 👎
    better: gr.Textbox
    better_send: gr.Button
    # the side panel
    model: gr.Dropdown
    use_rag: gr.Checkbox
    documents: gr.Dropdown
    file_types: gr.Dropdown
    temperature: gr.Slider
    max_new: gr.Slider
    top_k: gr.Slider
    clear: gr.Button

    @property
    def asked(self) -> list:
        """What a question is answered from, in the order `wiring.respond` takes it."""
        return [
            self.question,
            self.chatbot,
            self.turns,
            self.use_rag,
            self.temperature,
            self.max_new,
            self.top_k,
            self.model,
            self.documents,
            self.file_types,
            self.answers,
        ]


def build(settings) -> ChatTab:
    turns, answers, disliked = gr.State([]), gr.State([]), gr.State(None)
    with gr.Row(equal_height=False, elem_id="chat-row"):
        with gr.Column(scale=4):
            conversation = conversation_panel()
        with gr.Column(scale=1, min_width=260, elem_id="chat-side"):
            side = side_panel(settings)
    return ChatTab(turns=turns, answers=answers, disliked=disliked, **conversation, **side)


def conversation_panel() -> dict:
    chatbot = gr.Chatbot(
        label=i18n("chatbot_label"),
        height=560,
        placeholder=i18n("chat_placeholder"),
        elem_id="chatbot",
        buttons=["copy"],
        feedback_options=("Like", "Dislike"),  # 👍/👎 under each answer
        layout="bubble",
    )
    better = better_answer_row()
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
    return dict(chatbot=chatbot, question=question, send=send, stop=stop, **better)


def better_answer_row() -> dict:
    """After a 👎: an optional better answer, which pairs with the rated one for training."""
    with gr.Row(visible=False, elem_id="better-row") as row:
        better = gr.Textbox(
            label=i18n("better_answer_label"),
            placeholder=i18n("better_answer_placeholder"),
            scale=8,
            max_lines=6,
            elem_id="better-answer",
        )
        send = gr.Button(i18n("better_answer_send"), scale=1, min_width=90, elem_id="better-send")
    return dict(better_row=row, better=better, better_send=send)


def side_panel(settings) -> dict:
    """The model, the search scope, the generation settings and a new chat."""
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
        generation = generation_settings(settings)
    clear = gr.Button(i18n("new_chat"), variant="secondary")
    return dict(
        model=model,
        use_rag=use_rag,
        documents=documents,
        file_types=file_types,
        **generation,
        clear=clear,
    )


def generation_settings(settings) -> dict:
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
    return dict(temperature=temperature, max_new=max_new, top_k=top_k)
