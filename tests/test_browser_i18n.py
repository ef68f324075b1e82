"""The page in the visitor's language: Chromium set to Simplified Chinese gets the tabs,
labels, buttons and help texts in Chinese, and what the server writes (an upload's results,
the tables' headers) too; any other browser gets the English page as it always was (Gradio's
gr.I18n picks the language from the browser's locale, the server from the page's cookie)."""

from __future__ import annotations

import json
import re

import pytest

from tests import test_browser
from tests.test_browser import ANSWER_TIMEOUT, assert_offline, expect, open_tab, screenshot, upload
from webapp.config import Settings
from webapp.ui.i18n import EN, LANG_COOKIE, ZH_CN

chromium = test_browser.chromium
KEY = re.compile(r'translation_metadata\\", \\"key\\": \\"(\w+)\\"')  # as the page gets it
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture
def page_in(chromium, running_app):
    """Opens the app in a fresh browser whose language is `locale`."""
    contexts = []

    def open_in(locale: str):
        context, page = test_browser.open_app(chromium, running_app["url"], locale=locale)
        contexts.append(context)
        return page

    yield open_in
    for context in contexts:
        context.close()


def max_upload_mb() -> str:
    return f"{Settings().max_upload_mb:g}"  # the running app reads the same environment


def assert_no_untranslated_keys(page) -> None:
    assert "__i18n__" not in page.locator("body").inner_text()


def page_language_cookie(page) -> str | None:
    """What assets/language.html keeps for the server (webapp.ui.i18n.language)."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies.get(LANG_COOKIE)


def upload_one(page, folder, name: str):
    """Uploads a one-chunk text file of its own content (the app indexes a content once);
    returns the Last upload row that reports it."""
    path = folder / name
    path.write_text(f"The Zorblax tower ({name}) is 412 meters tall.\n", encoding="utf-8")
    upload(page, path)
    return page.locator("#upload-results [role=row]").filter(has_text=name)


def test_every_text_the_page_shows_has_both_languages(make_services):
    from webapp.ui.app import build_app

    demo = build_app(make_services(auth="anonymous"))  # with the workspace notice
    used = set(KEY.findall(json.dumps(demo.get_config_file(), default=str)))
    assert {"tab_chat", "chat_send", "header_tagline"} <= used
    assert any(key.startswith("notice_workspace_") for key in used)
    assert EN.keys() == ZH_CN.keys()
    assert used <= EN.keys()
    for key, text in EN.items():  # the same values go into both languages
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(ZH_CN[key])), key


@pytest.mark.browser
@pytest.mark.slow
def test_a_chinese_browser_gets_the_page_in_chinese(page_in, tmp_path):
    page = page_in("zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    for key in ("tab_chat", "tab_knowledge", "tab_adapters", "tab_evaluate"):
        expect(page.get_by_role("tab", name=ZH_CN[key])).to_be_visible()
    expect(page.locator("#send")).to_have_text(ZH_CN["chat_send"])
    expect(page.locator("#question textarea")).to_have_attribute(
        "placeholder", ZH_CN["question_placeholder"]
    )
    expect(page.locator("#chatbot")).to_contain_text("向你的文档提问")
    expect(page.locator("#model-picker")).to_contain_text(ZH_CN["model_picker"])
    # The choice keeps its value ("Base model"), after the page load's refresh too.
    expect(page.locator("#model-picker input")).to_have_value(ZH_CN["base_model"])
    expect(page.locator("#use-rag")).to_contain_text(ZH_CN["use_documents"])
    expect(page.locator("#your-data")).to_contain_text(ZH_CN["your_data"])
    assert_no_untranslated_keys(page)
    screenshot(page, "browser-chat-zh-cn.png")

    open_tab(page, ZH_CN["tab_knowledge"])
    expect(page.locator("#upload")).to_contain_text(ZH_CN["add_documents"])
    expect(page.get_by_text(ZH_CN["upload_hint"].format(mb=max_upload_mb()))).to_be_visible()
    expect(page.locator("#delete")).to_have_text(ZH_CN["delete_button"])
    # What the server writes: the tables' headers from the page load on, an upload's result.
    assert page_language_cookie(page) == "zh-CN"
    expect(page.locator("#upload-results")).to_contain_text(ZH_CN["col_result"])
    row = upload_one(page, tmp_path, "zorblax-zh.txt")
    expect(row).to_contain_text(ZH_CN["result_indexed_1"], timeout=ANSWER_TIMEOUT)
    expect(page.locator("#documents")).to_contain_text(ZH_CN["col_chunks"])
    assert_no_untranslated_keys(page)

    open_tab(page, ZH_CN["tab_adapters"])
    expect(page.locator("#data-source")).to_contain_text(ZH_CN["data_from_docs"])
    expect(page.locator("#method")).to_contain_text(ZH_CN["method_prompt"])
    expect(page.locator("#train")).to_have_text(ZH_CN["train_button"])
    expect(page.locator("#train-status")).to_contain_text(ZH_CN["training_idle"])
    assert_no_untranslated_keys(page)

    open_tab(page, ZH_CN["tab_evaluate"])
    expect(page.locator("#eval-configs")).to_contain_text(ZH_CN["config_rag"])
    expect(page.locator("#eval-split")).to_contain_text(ZH_CN["split_test"])
    expect(page.locator("#run-eval")).to_have_text(ZH_CN["run_evaluation"])
    assert_no_untranslated_keys(page)
    assert_offline(page)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("locale", ["en-US", "de-DE"])  # German: no words of ours, so English
def test_any_other_browser_gets_the_page_in_english(page_in, locale):
    page = page_in(locale)
    for name in ("Chat", "Knowledge base", "Adapters", "Evaluate"):
        expect(page.get_by_role("tab", name=name)).to_be_visible()
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("#question textarea")).to_have_attribute(
        "placeholder", "Ask a question about your documents…"
    )
    expect(page.locator("#chatbot")).to_contain_text("Ask your documents")
    expect(page.locator("#model-picker input")).to_have_value("Base model")
    expect(page.locator("#use-rag")).to_contain_text("Use my documents")

    open_tab(page, "Knowledge base")
    hint = f"CSV or JSON · up to {max_upload_mb()} MB per file. Files are indexed as soon as"
    expect(page.get_by_text(hint)).to_be_visible()
    expect(page.locator("#upload-results")).to_contain_text("Result")
    assert page_language_cookie(page) != "zh-CN"
    open_tab(page, "Adapters")
    expect(page.locator("#data-source")).to_contain_text("My documents")
    expect(page.locator("#train")).to_have_text("Train")
    open_tab(page, "Evaluate")
    expect(page.locator("#eval-configs")).to_contain_text("Model + my documents (RAG)")
    expect(page.locator("#run-eval")).to_have_text("Run evaluation")
    assert_no_untranslated_keys(page)
    assert_offline(page)


@pytest.mark.browser
@pytest.mark.slow
def test_the_language_is_switched_in_the_settings_without_a_chinese_browser(page_in, tmp_path):
    page = page_in("en-US")
    assert page_language_cookie(page) == "en"
    page.locator("footer").get_by_text("Settings").click()
    language = page.get_by_label("Language")
    language.click()
    page.get_by_role("option", name="简体中文").click()
    page.keyboard.press("Escape")
    page.get_by_role("dialog").get_by_role("button").first.click()  # close the settings
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    # Every tab's label follows, not only the open tab's (assets/language.html).
    for key in ("tab_chat", "tab_knowledge", "tab_adapters", "tab_evaluate"):
        expect(page.get_by_role("tab", name=ZH_CN[key])).to_be_visible()
    expect(page.get_by_role("tab", name=ZH_CN["tab_chat"])).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#send")).to_have_text(ZH_CN["chat_send"])
    assert_no_untranslated_keys(page)
    open_tab(page, ZH_CN["tab_knowledge"])
    expect(page.locator("#upload")).to_contain_text(ZH_CN["add_documents"])
    # The server follows from the next action on, though the browser still asks for English.
    assert page_language_cookie(page) == "zh-CN"
    row = upload_one(page, tmp_path, "zorblax-switched.txt")
    expect(row).to_contain_text(ZH_CN["result_indexed_1"], timeout=ANSWER_TIMEOUT)
    screenshot(page, "browser-language-switched.png")
