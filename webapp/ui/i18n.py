"""The web UI's words in English and Simplified Chinese: the page through Gradio's own
gr.I18n, and what handlers write at request time through `say`, from the same tables
(webapp.ui.words_en, webapp.ui.words_zh).

The page: components take `i18n("key")`, and the browser shows each key in its language: a
browser set to Chinese (zh-CN), or a visitor who picks 简体中文 in Settings, gets Chinese,
every other one English. Gradio puts no values into a translation, so a text with one (a
size limit, say) goes through `filled`.

At request time: Gradio's page translates no `value` it is sent, so what a handler writes
(status lines, gr.Info/gr.Warning/gr.Error messages, upload results, the column headers and
fixed cells of the tables it returns) is chosen on the server with `say(lang, key)`, where
`lang = language(request)`: the page's own language, which assets/language.html keeps in
the cookie `webapp_lang`, else the request's Accept-Language (gradio_client sends none:
English). Handlers take it as an argument from their wiring.

Still English: the messages of domain errors (webapp.knowledge, webapp.adapters, ... raise
them in English; the UI shows them as they are, inside its own translated wrappers), the
progress texts the domain reports (an upload's "reading", an evaluation's "question 3/10"),
the labels of evaluation configurations and the names of saved runs (stored with each run),
the question-set table's column names (the file format's field names, read back by name),
the loss plot's axes and series, and the named API's messages (for programs). The chat's
answers and its in-chat messages follow the question's language (webapp.chat.prompts).
"""

from __future__ import annotations

import re
from typing import Literal

import gradio as gr
from gradio.i18n import I18nData

from webapp.ui.words_en import EN
from webapp.ui.words_zh import ZH_CN

__all__ = ["EN", "LANG_COOKIE", "ZH_CN", "filled", "i18n", "language", "say"]

Language = Literal["en", "zh-CN"]
LANG_COOKIE = "webapp_lang"  # written by assets/language.html from <html lang>

i18n = gr.I18n(en=EN, **{"zh-CN": ZH_CN})


def filled(key: str, **values: str) -> I18nData:
    """`key`'s text with `values` put into its {placeholders}, in every language. Gradio's
    page fills in no values, so each filling gets a key of its own, added to both
    dictionaries (which the page reads each time it loads)."""
    own = key + "__" + re.sub(r"\W", "_", "_".join(values.values()))
    for words in i18n.translations_dict.values():
        words.setdefault(own, words[key].format(**values))
    return i18n(own)


def say(lang: str, key: str, **values: object) -> str:
    """`key`'s text in `lang` ("en" or "zh-CN"; English where the key has no translation),
    with `values` put into its {placeholders}: what a handler writes at request time."""
    words = ZH_CN if lang == "zh-CN" else EN
    text = words.get(key) or EN[key]
    return text.format(**values) if values else text


def language(request: gr.Request | None) -> Language:
    """The language to answer `request` in: the page's (the `webapp_lang` cookie), else
    the most preferred of its Accept-Language; any Chinese is zh-CN, the rest English."""
    if request is None:
        return "en"
    chosen = _read(request, "cookies").get(LANG_COOKIE)
    return supported(chosen or preferred(_read(request, "headers").get("accept-language")))


def supported(tag: str | None) -> Language:
    """A language tag (zh-TW, zh_CN, en-US, de...) as one of ours."""
    primary = re.split(r"[-_]", (tag or "").strip().lower())[0]
    return "zh-CN" if primary == "zh" else "en"


def preferred(header: str | None) -> str | None:
    """The most preferred tag of an Accept-Language header: the highest q (1 when not
    given), the first of equals; "*" and q=0 name no language."""
    best, best_q = None, 0.0
    for part in (header or "").split(","):
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                q = _quality(value)
        if tag and tag != "*" and q > best_q:
            best, best_q = tag, q
    return best


def _quality(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _read(request: gr.Request, part: str) -> dict[str, str]:
    """The request's headers or cookies as a dict with lower-case keys for headers: a live
    request holds Starlette's mappings, a queued one plain dicts (gr.Request pickles them)."""
    try:
        found = dict(getattr(request, part) or {})
    except (AttributeError, TypeError):
        return {}
    if part == "headers":
        return {str(k).lower(): str(v) for k, v in found.items()}
    return {str(k): str(v) for k, v in found.items()}
