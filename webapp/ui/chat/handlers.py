"""What the Chat tab's events do, as plain functions of (services, inputs..., owner), in
the visitor's language `lang` (webapp.ui.i18n.language).

The owner and the language are resolved by the caller (webapp.ui.chat.wiring, from the
request). `respond`
is a generator: it yields the values of (question, chatbot, turns, send, stop, answers)
as the answer streams in; `answers` remembers each answered turn as data, for its rating
(webapp.ui.chat.feedback). Domain errors reach the page as their plain message (`plain_errors`);
anything else is logged and reads as a plain "try again"."""

from __future__ import annotations

import logging

import gradio as gr

from webapp.chat.service import ChatOptions
from webapp.errors import WebappError
from webapp.ui.api import plain_errors
from webapp.ui.chat.feedback import remember, turn_record
from webapp.ui.chat.views import adapter_of, answer_messages, scope_updates
from webapp.ui.i18n import say
from webapp.ui.render import safe_answer

log = logging.getLogger(__name__)


def chat_options(rag, temp, max_tokens, k, choice, docs, kinds) -> ChatOptions:
    """The side panel's values (model choice, settings, search scope) as ChatOptions."""
    return ChatOptions(
        bool(rag),
        int(k),
        float(temp),
        int(max_tokens),
        adapter_of(choice),
        documents=tuple(docs or ()),
        file_types=tuple(kinds or ()),
    )


@plain_errors
def respond(
    services,
    message: str,
    shown,
    history,
    options: ChatOptions,
    owner: str,
    lang: str = "en",
    answers: list | None = None,
):
    """The question shown at once (the box emptied, Stop instead of Send), then the answer
    as it grows, with its sources; the turns remember the plain text, `answers` the turn
    as data (what a 👍/👎 on it stores)."""
    services.chat_limit.check(owner)
    message = message.strip()
    shown = list(shown or []) + [{"role": "user", "content": safe_answer(message)}]
    base = list(history or [])
    yield "", shown, base, gr.update(visible=False), gr.update(visible=True), gr.skip()
    try:
        for answer in services.chat.stream(owner, message, base, options):
            turns_now = base + [
                {"role": "user", "content": message},
                {"role": "assistant", "content": answer.answer},
            ]
            remembered = remember(answers, turn_record(answer, len(shown)))
            messages = shown + answer_messages(answer, lang)
            yield gr.skip(), messages, turns_now, gr.skip(), gr.skip(), remembered
    except WebappError:
        raise  # its plain message (plain_errors)
    except Exception as exc:
        log.exception("chat failed")
        raise gr.Error(say(lang, "chat_retry")) from exc


def scope_choices(services, picked_docs, picked_kinds, owner: str) -> tuple:
    """The owner's documents and file kinds; keeps picks that still exist."""
    docs = services.knowledge.list_documents(owner)
    return scope_updates(docs, picked_docs, picked_kinds)
