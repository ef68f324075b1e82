"""What the Chat tab shows: an answer as chat messages (the text, then its sources folded
underneath, the lines around it in the visitor's language `lang`), and the choices of the
model selector and of the search-scope pickers."""

from __future__ import annotations

import html

import gradio as gr

from webapp.chat.service import Answer
from webapp.knowledge.formats import FORMATS
from webapp.ui.i18n import EN, i18n, say
from webapp.ui.render import evidence_line, safe_answer, short_date, sources_markdown

# A format's own label (PDF, Word...), or its translation where i18n has "kind_<kind>" ("Text").
KIND_LABELS = {
    f.kind: i18n(f"kind_{f.kind}") if f"kind_{f.kind}" in EN else f.label for f in FORMATS
}
BASE_MODEL = "Base model"  # the selector's value: has a space, so it is never an adapter's name
BASE_CHOICE = (i18n("base_model"), BASE_MODEL)


# -- the model selector ------------------------------------------------------------------------
def model_selector_update(names: list[str], current: str | None) -> dict:
    """Choices for the model selector; keeps the session's pick while it still exists."""
    return gr.update(
        choices=[BASE_CHOICE, *names], value=current if current in names else BASE_MODEL
    )


def adapter_of(choice: str | None) -> str | None:
    return None if not choice or choice == BASE_MODEL else choice


# -- the search-scope pickers ------------------------------------------------------------------
def scope_updates(docs, picked_docs, picked_kinds) -> tuple:
    """The documents and file kinds to search in; keeps picks that still exist."""
    ids = [(f"{d.file} · {short_date(d.added)}", d.id) for d in docs]
    kinds = [(KIND_LABELS.get(k, k), k) for k in sorted({d.kind for d in docs if d.kind})]
    keep_docs = [v for v in picked_docs or [] if v in {i for _, i in ids}]
    keep_kinds = [v for v in picked_kinds or [] if v in {k for _, k in kinds}]
    return (
        gr.update(choices=ids, value=keep_docs),
        gr.update(choices=kinds, value=keep_kinds, visible=len(kinds) > 1 or bool(keep_kinds)),
    )


# -- answers -------------------------------------------------------------------------------------
def answer_messages(answer: Answer, lang: str = "en") -> list[dict]:
    messages = [{"role": "assistant", "content": answer_text(answer, lang)}]
    if answer.sources:
        messages.append(sources_message(answer, lang))
    return messages


def answer_text(answer: Answer, lang: str = "en") -> str:
    """The answer, its evidence once done, and small lines on who wrote it and how sure."""
    text = safe_answer(answer.answer) if answer.answer else "…"
    if answer.done and (quote := evidence_line(answer.sources, answer.evidence)):
        text += f"\n\n<small>{say(lang, 'answer_evidence', quote=quote)}</small>"
    if answer.adapter:  # a small line under the answer: which adapter wrote it
        name = f"<code>{html.escape(answer.adapter)}</code>"
        text += f"\n\n<small>{say(lang, 'answered_by_adapter', name=name)}</small>"
    elif answer.reader and answer.done:
        text += f"\n\n<small>{say(lang, 'answered_by_reader')}</small>"
    if answer.grounded is False:
        text += f"\n\n<small>{say(lang, 'answer_ungrounded')}</small>"
    return text


def sources_message(answer: Answer, lang: str = "en") -> dict:
    files = ", ".join(dict.fromkeys(s.file for s in answer.sources))
    n = len(answer.sources)
    return {
        "role": "assistant",
        "content": sources_markdown(answer.sources, answer.evidence, lang),
        "metadata": {
            "title": say(lang, "sources_title", n=n, files=files)[:160],
            "status": "done",  # folded: the title lists the files, a click shows passages
        },
    }
