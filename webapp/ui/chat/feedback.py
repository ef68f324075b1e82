"""👍/👎 under the chat's answers, and a better answer for a 👎: what the events do, as
plain functions of (services, inputs..., owner, lang), like webapp.ui.chat.handlers.

The page only shows formatted answers, so each answered turn is remembered as data in a
per-session gr.State (`answers`: one `turn_record` per answer, keyed by the index of its
message in the Chatbot, which is what gr.LikeData.index names): the question, the plain
answer, the sources that turn used, the model and adapter. A rating stores that record in
the owner's FeedbackStore (webapp.chat.feedback); rating it again changes the stored one,
and taking the thumb back forgets it. `disliked` holds the id of the last 👎, which the
"Better answer" box attaches its text to.
"""

from __future__ import annotations

import gradio as gr

from webapp.chat.feedback import Feedback, source_record
from webapp.chat.service import Answer
from webapp.ui.api import plain_errors
from webapp.ui.i18n import say

RATINGS = {True: "up", False: "down"}  # gr.LikeData.liked; "" (or None): the thumb taken back


def turn_record(answer: Answer, index: int) -> dict:
    """What a rating of this answer stores; `index`: its message's place in the Chatbot."""
    return {
        "index": index,
        "question": answer.question,
        "answer": answer.answer,
        "sources": [source_record(s) for s in answer.sources],
        "model": answer.model,
        "adapter": answer.adapter,
        "feedback_id": None,
    }


def remember(answers: list | None, record: dict) -> list:
    """The session's records with this turn's (a streamed answer replaces its own)."""
    kept = [r for r in answers or [] if r["index"] != record["index"]]
    return [*kept, record]


def _index(index) -> int:
    return index[0] if isinstance(index, list | tuple) else int(index)


@plain_errors
def rate(services, answers, index, liked, disliked, owner: str, lang: str = "en"):
    """A thumb on the answer at `index`: stored, changed or taken back. Returns the
    session's (answers, disliked, better-answer row)."""
    answers = [dict(r) for r in answers or []]
    # the answer at `index`, or whose sources message it is (a message of the same turn)
    at = [r for r in answers if r["index"] <= _index(index)]
    record = max(at, key=lambda r: r["index"]) if at else None
    if record is None:  # an answer from before a reload, or a message of the app's
        gr.Warning(say(lang, "feedback_unknown"))
        return answers, disliked, gr.skip()
    store, rating = services.feedback, RATINGS.get(liked)
    if rating is None:  # taken back
        if record["feedback_id"]:
            store.remove(owner, record["feedback_id"])
        gone, record["feedback_id"] = record["feedback_id"], None
        gr.Info(say(lang, "feedback_removed"))
        disliked = None if disliked == gone else disliked
        return answers, disliked, gr.update(visible=disliked is not None)
    # The same answer rated again changes its stored rating; else a new record.
    if not (record["feedback_id"] and store.update(owner, record["feedback_id"], rating=rating)):
        record["feedback_id"] = store.add(owner, feedback_of(record, rating)).id
    if rating == "down":
        gr.Info(say(lang, "feedback_saved_down"))
        return answers, record["feedback_id"], gr.update(visible=True)
    gr.Info(say(lang, "feedback_saved_up"))
    disliked = None if disliked == record["feedback_id"] else disliked
    return answers, disliked, gr.update(visible=disliked is not None)


def feedback_of(record: dict, rating: str) -> Feedback:
    return Feedback(
        question=record["question"],
        answer=record["answer"],
        rating=rating,  # type: ignore[arg-type]
        sources=record["sources"],
        model=record["model"] or "",
        adapter=record["adapter"],
    )


@plain_errors
def better_answer(services, text: str, disliked, owner: str, lang: str = "en"):
    """Attach the better answer to the last 👎. Returns the (emptied) box."""
    text = (text or "").strip()
    if not disliked:
        raise gr.Error(say(lang, "better_needs_dislike"))
    if not text:
        raise gr.Error(say(lang, "better_empty"))
    if services.feedback.update(owner, disliked, better=text) is None:
        raise gr.Error(say(lang, "feedback_unknown"))
    gr.Info(say(lang, "better_saved"))
    return ""
