"""The Chat tab's events: each resolves the owner (webapp.ui.identity.owner_of) and the
language (webapp.ui.i18n.language) from the request and calls its handler in
webapp.ui.chat.handlers."""

from __future__ import annotations

import gradio as gr

from webapp.ui.api import signed_in
from webapp.ui.chat import feedback, handlers
from webapp.ui.chat.layout import ChatTab
from webapp.ui.events import PRIVATE, always_after
from webapp.ui.i18n import language
from webapp.ui.identity import owner_of


def wire(services, ui: ChatTab) -> tuple:
    """Connects the events; returns the model selector and the (function, inputs, outputs)
    that refreshes the search-scope pickers."""

    def scope_choices(picked_docs, picked_kinds, request: gr.Request):
        """The owner's documents and file kinds; keeps picks that still exist."""
        # raw: the page load's when_signed_in skips the update for a visitor not signed in
        owner = owner_of(request, services.settings)
        return handlers.scope_choices(services, picked_docs, picked_kinds, owner)

    wire_questions(services, ui)
    wire_feedback(services, ui)
    wire_conversation(ui)
    return ui.model, (scope_choices, [ui.documents, ui.file_types], [ui.documents, ui.file_types])


def wire_questions(services, ui: ChatTab) -> None:
    """Send and Enter answer (one at a time: the model's group), Stop cancels both."""

    def respond(
        message,
        shown,
        history,
        rag,
        temp,
        max_tokens,
        k,
        choice,
        docs,
        kinds,
        answers,
        request: gr.Request,
    ):
        if not (message or "").strip():  # nothing asked: nothing changes, signed in or not
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        options = handlers.chat_options(rag, temp, max_tokens, k, choice, docs, kinds)
        owner = signed_in(request, services.settings)
        lang = language(request)
        yield from handlers.respond(
            services, message, shown, history, options, owner, lang, answers=answers
        )

    outputs = [ui.question, ui.chatbot, ui.turns, ui.send, ui.stop, ui.answers]
    common = dict(concurrency_id="model", concurrency_limit=1, **PRIVATE)
    events = [
        ui.send.click(respond, ui.asked, outputs, **common),
        ui.question.submit(respond, ui.asked, outputs, **common),
    ]
    for event in events:  # after an error the buttons must come back too
        always_after(
            event, lambda: (gr.update(visible=True), gr.update(visible=False)), [ui.send, ui.stop]
        )
    ui.stop.click(
        lambda: (gr.update(visible=True), gr.update(visible=False)),
        None,
        [ui.send, ui.stop],
        cancels=events,
        queue=False,
        **PRIVATE,
    )


def wire_feedback(services, ui: ChatTab) -> None:
    """👍/👎 on an answer stores it for the owner; a better answer goes with the last 👎."""

    def rate(answers, disliked, data: gr.LikeData, request: gr.Request):
        owner = signed_in(request, services.settings)
        lang = language(request)
        return feedback.rate(services, answers, data.index, data.liked, disliked, owner, lang)

    def better_answer(text, disliked, request: gr.Request):
        owner = signed_in(request, services.settings)
        return feedback.better_answer(services, text, disliked, owner, language(request))

    rated = [ui.answers, ui.disliked, ui.better_row]
    ui.chatbot.like(rate, [ui.answers, ui.disliked], rated, queue=False, **PRIVATE)
    for event in (ui.better_send.click, ui.better.submit):
        event(better_answer, [ui.better, ui.disliked], [ui.better], queue=False, **PRIVATE)


def wire_conversation(ui: ChatTab) -> None:
    """New chat forgets the conversation; so does the chat box's own trash button."""
    forgotten = [ui.chatbot, ui.turns, ui.answers, ui.disliked, ui.better_row]
    ui.clear.click(
        lambda: ([], [], [], None, gr.update(visible=False)),
        None,
        forgotten,
        queue=False,
        **PRIVATE,
    )
    # The chat box's own trash button must forget the conversation too, not just hide it.
    ui.chatbot.clear(
        lambda: ([], [], None, gr.update(visible=False)),
        None,
        forgotten[1:],
        queue=False,
        **PRIVATE,
    )
