"""What handlers write at request time follows the visitor's language: `language(request)`
reads the page's cookie, else Accept-Language; `say` reads the words the page uses
(webapp.ui.i18n); every key a handler says exists in English, and a real handler and a real
wiring answer a Chinese request in Chinese and any other in today's English."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import gradio as gr
import pytest
from starlette.requests import Request

import webapp
from tests.conftest import DEMO, OWNER
from webapp.ui.i18n import EN, LANG_COOKIE, ZH_CN, language, say

ROOT = Path(webapp.__file__).resolve().parent


def request(accept_language: str | None = None, cookie: str | None = None) -> gr.Request:
    """A gr.Request as a handler gets it, around a real Starlette request."""
    headers = []
    if accept_language is not None:
        headers.append((b"accept-language", accept_language.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return gr.Request(request=Request({**scope, "query_string": b""}))


# -- language(request) ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hant-HK;q=0.9", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("de-DE,de;q=0.9", "en"),
        ("en;q=0.5, zh-CN;q=0.8", "zh-CN"),  # by q, not by order
        ("zh-CN;q=0.4, fr;q=0.6", "en"),
        ("de;q=0.9, zh;q=0.9", "en"),  # equals: the first
        ("*, zh;q=0.5", "zh-CN"),  # "*" names no language
        ("zh;q=0, en", "en"),  # q=0: not wanted
        ("", "en"),
        (None, "en"),
    ],
)
def test_the_language_is_the_most_preferred_of_accept_language(header, expected):
    assert language(request(header)) == expected


def test_the_page_s_cookie_beats_the_header():
    assert language(request("en-US", f"{LANG_COOKIE}=zh-CN")) == "zh-CN"
    assert language(request("zh-CN", f"other=1; {LANG_COOKIE}=en")) == "en"
    assert language(request("zh-CN", f"{LANG_COOKIE}=de")) == "en"  # Settings: Deutsch
    assert language(request("zh-CN", f"{LANG_COOKIE}=")) == "zh-CN"  # empty: the header
    assert language(request("zh-CN", "other=en")) == "zh-CN"


def test_no_request_or_no_header_is_english():
    assert language(None) == "en"
    assert language(request()) == "en"
    assert language(gr.Request()) == "en"  # no fastapi request, no headers at all


def test_a_queued_request_reads_the_same():
    """Gradio pickles a request for some routes: its headers and cookies become dicts."""
    queued = pickle.loads(pickle.dumps(request("de-DE", f"{LANG_COOKIE}=zh-CN")))
    assert queued.request is None
    assert language(queued) == "zh-CN"
    assert language(gr.Request(headers={"Accept-Language": "zh-TW"})) == "zh-CN"
    assert language(gr.Request(headers={"accept-language": "en-US"}, cookies={})) == "en"


# -- say ---------------------------------------------------------------------------------------
def test_say_fills_in_values_and_falls_back_to_english(monkeypatch):
    assert say("en", "deleted_document", file="a.md") == "Deleted a.md."
    assert say("zh-CN", "deleted_document", file="a.md") == "已删除 a.md。"
    assert say("zh-CN", "starting") == ZH_CN["starting"]
    assert say("fr", "starting") == "Starting…"  # a language we lack: English
    monkeypatch.delitem(ZH_CN, "starting")
    assert say("zh-CN", "starting") == "Starting…"


def said_keys() -> tuple[set[str], set[str]]:
    """(literal keys, prefixes of f-string keys) of every say(lang, key) in webapp/."""
    literal, prefixes = set(), set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "say"):
                continue
            key = node.args[1]
            options = [key.body, key.orelse] if isinstance(key, ast.IfExp) else [key]
            for option in options:
                if isinstance(option, ast.Constant):
                    literal.add(option.value)
                elif isinstance(option, ast.JoinedStr):
                    prefixes.add(option.values[0].value)  # type: ignore[attr-defined]
    return literal, prefixes


def test_every_key_a_handler_says_has_its_words():
    from webapp.evaluation import runner
    from webapp.knowledge.recovery import INTERRUPTED
    from webapp.ui.adapters import views as adapters
    from webapp.ui.evaluate import views as evaluate
    from webapp.ui.identity import NOT_SIGNED_IN
    from webapp.ui.knowledge import views as knowledge

    literal, prefixes = said_keys()
    assert len(literal) > 60
    assert literal <= EN.keys()
    # The keys made at run time, family by family.
    families = {"result_", "train_", "method_", "training_", "outcome_", "metric_", "removed_"}
    assert prefixes == families
    made = {f"result_{s}{one}" for s in ("indexed", "replaced") for one in ("", "_1")}
    made |= {f"train_{field}" for field in adapters.FIELDS}
    made |= {f"method_{method}" for method in adapters.METHODS}
    made |= {
        f"{what}_{state}" for what in ("training", "outcome") for state in ("cancelled", "failed")
    }
    made |= {f"metric_{key}" for key in evaluate.KEY_OF_LABEL.values()}
    made |= {
        f"removed_{what}"
        for what in ("documents", "adapters", "evaluations", "question_sets", "feedback")
    }
    columns = [knowledge.DOC_COLUMNS, knowledge.RESULT_COLUMNS, knowledge.CHUNK_COLUMNS]
    columns += [adapters.ADAPTER_COLUMNS, evaluate.RESULT_COLUMNS, evaluate.COMPARE_COLUMNS]
    made |= {key for keys in columns for key in keys} | set(NOT_SIGNED_IN.values())
    assert made <= EN.keys()
    assert EN.keys() == ZH_CN.keys()  # (test_browser_i18n checks their placeholders)
    # Words the domain has too stay the same in English.
    for key, label in [*runner.METRICS, ("latency_s", "Latency (s)")]:
        assert EN[f"metric_{key}"] == label
    assert EN["upload_interrupted"] == INTERRUPTED


# -- real handlers and wiring, in both languages -----------------------------------------------
def test_a_question_set_s_summary_and_errors_follow_the_language():
    from webapp.ui.evaluate import handlers

    questions = str(DEMO / "questions.jsonl")
    for accept, summary in [
        ("en-US", "13 question(s) from 2 document(s)."),  # today's English
        ("zh-CN,zh;q=0.9", "13 个问题，来自 2 个文档。"),
    ]:
        _, _, said = handlers.uploaded(questions, language(request(accept)))
        assert said == summary
    with pytest.raises(gr.Error) as refused:
        handlers.split_table(None, language(request("zh-TW")))
    assert refused.value.message == "还没有问题：请上传一个问题集，或者生成一个。"


def test_the_training_status_follows_the_language(settings):
    from tests.test_adapters_handlers import job_in
    from webapp.services import Services
    from webapp.ui.adapters import handlers, views

    training = job_in(
        "training", step=3, total_steps=8, epoch=1, train_loss=[(3, 2.25)], eta_s=41.6
    )
    zh = language(request("zh-CN"))
    assert views.status_line(training, 0, zh) == "第 3/8 步 · 第 1/2 轮 · 损失 2.250 · 约剩 42 秒"
    assert views.status_line(job_in("queued"), 2, zh) == "等待中：前面还有 2 个训练任务。"
    stopped = job_in("cancelled")
    with pytest.warns(UserWarning, match="已取消：训练已取消。"):  # the toast
        shown = handlers.finished(Services(settings), stopped, None, OWNER, zh)
    assert "已取消：训练已取消。" in shown["status"]
    assert shown["table"]["headers"][:2] == ["名称", "方法"]


def test_the_wiring_answers_each_request_in_its_language(settings):
    """The Knowledge tab's own events, called as Gradio calls them, with the request."""
    from webapp.services import Services
    from webapp.ui.knowledge import build_knowledge_tab

    with gr.Blocks() as demo:
        _, _, (blank, _) = build_knowledge_tab(Services(settings))
    remove = next(fn.fn for fn in demo.fns.values() if fn.name == "remove")
    for accept, message in [
        ("zh-CN", "请先选择要删除的文档。"),
        ("en-US", "Choose a document to delete first."),
        (None, "Choose a document to delete first."),
    ]:
        with pytest.raises(gr.Error) as refused:
            remove(None, request(accept))
        assert refused.value.message == message
    assert blank(request("zh-CN"))["headers"] == ["文件", "结果"]
    assert blank(request("de-DE", f"{LANG_COOKIE}=zh-CN"))["headers"] == ["文件", "结果"]
    assert blank(request("zh-CN", f"{LANG_COOKIE}=en"))["headers"] == ["File", "Result"]


def test_sign_in_messages_follow_the_language(settings):
    from webapp.ui.api import signed_in

    settings = settings.model_copy(update={"auth": "password"})
    with pytest.raises(gr.Error) as english:
        signed_in(request("en-US"), settings)
    assert english.value.message == "Please sign in first."
    with pytest.raises(gr.Error) as chinese:
        signed_in(request("zh-CN"), settings)
    assert chinese.value.message == "请先登录。"
