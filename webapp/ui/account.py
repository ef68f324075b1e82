"""The account corner of the page: who is signed in, sign-in/out, notices about where data
lives, and "Delete all my data" (with a confirmation step); what the events write is in
the visitor's language (webapp.ui.i18n.language)."""

from __future__ import annotations

import html
import logging
import os

import gradio as gr
from gradio.i18n import I18nData

from webapp.errors import WebappError
from webapp.ui.i18n import EN, filled, i18n, language, say
from webapp.ui.identity import display_name, owner_of

log = logging.getLogger(__name__)


def storage_notice(settings) -> I18nData | None:
    """Why a user's documents may not last, in plain words (None when they do)."""
    if settings.auth == "anonymous":
        minutes = settings.anonymous_idle_minutes
        if minutes >= 120:
            return filled("notice_workspace_hours", hours=f"{minutes / 60:g}")
        return filled("notice_workspace_minutes", minutes=f"{minutes:g}")
    if os.environ.get("SPACE_ID") and not str(settings.storage_dir.resolve()).startswith("/data"):
        return i18n("notice_space_storage")
    return None


def build_account_bar(services) -> tuple:
    """Signed-in line (and the Hugging Face sign-in button in hf mode); returns the load
    event's (function, outputs) so the page fills it in for each visitor."""
    settings = services.settings
    with gr.Column(elem_id="account", scale=2, min_width=280):
        who = gr.HTML("", elem_id="account-who", padding=False)
        if settings.auth == "hf":
            gr.LoginButton(size="sm")
        notice = storage_notice(settings)
        if notice is not None:
            gr.HTML(
                f"<div class='notice'>{notice}</div>",  # our own words: nothing to escape
                elem_id="storage-notice",
                padding=False,
            )

    def fill(request: gr.Request):
        return signed_in_line(settings, display_name(request, settings), language(request))

    return fill, [who]


def signed_in_line(settings, name: str | None, lang: str = "en") -> str:
    """The line "Signed in as NAME" (and Sign out in password mode); empty when nobody is
    signed in, and in anonymous mode, whose notice says it already."""
    if name is None or settings.auth == "anonymous":
        return ""
    text = say(lang, "signed_in_as", name=f"<b>{html.escape(name)}</b>")
    if settings.auth == "password":
        text += f" · <a href='/logout'>{say(lang, 'sign_out')}</a>"
    return text


def build_delete_all(services, after) -> gr.Button:
    """A 'Your data' panel: what is kept, and a two-step 'Delete all my data'."""
    settings = services.settings
    with gr.Accordion(i18n("your_data"), open=False, elem_id="your-data"):
        gr.Markdown(i18n("your_data_help"))
        with gr.Row():
            wide = dict(scale=0, min_width=230)
            ask = gr.Button(i18n("delete_all_data"), variant="stop", **wide)
            confirm = gr.Button(i18n("delete_all_confirm"), variant="stop", visible=False, **wide)
            keep = gr.Button(i18n("keep_my_data"), visible=False, **wide)
        result = gr.Markdown("")

    show = (gr.update(visible=False), gr.update(visible=True), gr.update(visible=True))
    hide = (gr.update(visible=True), gr.update(visible=False), gr.update(visible=False))
    ask.click(lambda: (*show, ""), None, [ask, confirm, keep, result], api_visibility="private")
    keep.click(lambda: hide, None, [ask, confirm, keep], api_visibility="private")

    def delete_all(request: gr.Request):
        lang = language(request)
        try:
            removed = services.accounts.delete(owner_of(request, settings))
        except WebappError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:
            log.exception("delete all data failed")
            raise gr.Error(say(lang, "delete_all_failed")) from exc
        return (*hide, deleted_line(removed, lang))

    event = confirm.click(
        delete_all,
        None,
        [ask, confirm, keep, result],
        api_visibility="private",
        concurrency_id="ingest",
        concurrency_limit=1,
    )
    for fn, inputs, outputs in after:  # lists on the other tabs show the empty state
        event = event.then(fn, inputs, outputs, api_visibility="private")
    return confirm


def deleted_line(removed: dict[str, int], lang: str = "en") -> str:
    """What "Delete all my data" removed, e.g. "Deleted: 2 documents, 1 adapters."."""
    parts = [
        say(lang, f"removed_{what}", n=n)
        if f"removed_{what}" in EN
        else f"{n} {what.replace('_', ' ')}"
        for what, n in removed.items()
    ]
    return say(lang, "deleted_all", done=say(lang, "list_separator").join(parts))
