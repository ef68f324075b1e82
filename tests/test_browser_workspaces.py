"""Anonymous public mode in a real browser: each browser gets its own private workspace,
keeps it across reloads, never sees another's documents, and can delete all of it."""

from __future__ import annotations

import pytest

from tests import test_browser
from tests.conftest import AppProcess
from tests.test_browser import (
    ANSWER_TIMEOUT,
    UI_TIMEOUT,
    assert_offline,
    document_rows,
    expect,
    open_tab,
    screenshot,
    upload,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

chromium = test_browser.chromium
SECRET = "QX-4471-ZEBRA"


@pytest.fixture(scope="module")
def anonymous_app(tmp_path_factory, model_cache):
    storage = tmp_path_factory.mktemp("anonymous") / "storage"
    app = AppProcess(storage, model_cache, WEBAPP_AUTH="anonymous").start()
    yield app
    app.stop()


def visitor(chromium, app):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.requested = requested
    page.goto(app.url)
    expect(page.locator("#question textarea")).to_be_visible()
    return context, page


def test_each_browser_has_its_own_workspace(chromium, anonymous_app, tmp_path):
    secret = tmp_path / "kestrel.md"
    secret.write_text(f"# Kestrel\nThe vault code is {SECRET}.\n", encoding="utf-8")
    first, page = visitor(chromium, anonymous_app)
    second, other = visitor(chromium, anonymous_app)
    try:
        expect(page.locator("#storage-notice")).to_contain_text("private, temporary workspace")
        open_tab(page, "Knowledge base")
        upload(page, secret)
        rows = document_rows(page)
        expect(rows.filter(has_text="kestrel.md")).to_have_count(1, timeout=ANSWER_TIMEOUT)

        open_tab(other, "Knowledge base")
        other.reload()  # the list as the server has it now
        open_tab(other, "Knowledge base")
        expect(document_rows(other).filter(has_text="kestrel.md")).to_have_count(0)
        open_tab(other, "Chat")
        other.locator("#question textarea").fill("What is the vault code?")
        other.locator("#send").click()
        expect(other.locator("#send")).to_be_visible(timeout=ANSWER_TIMEOUT)
        expect(other.locator("#chatbot")).not_to_contain_text(SECRET)

        page.reload()  # the workspace cookie brings the same workspace back
        open_tab(page, "Knowledge base")
        expect(rows.filter(has_text="kestrel.md")).to_have_count(1)

        page.get_by_text("Your data").click()
        page.get_by_role("button", name="Delete all my data").click()
        expect(page.get_by_role("button", name="Yes, delete everything")).to_be_visible()
        screenshot(page, "browser-delete-all.png")
        page.get_by_role("button", name="Yes, delete everything").click()
        expect(page.get_by_text("Deleted: 1 documents")).to_be_visible()
        expect(rows.filter(has_text="kestrel.md")).to_have_count(0)
        assert_offline(page)
        assert_offline(other)
    finally:
        first.close()
        second.close()
