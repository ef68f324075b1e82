"""The web app as a user sees it: Chromium against `webapp serve`, offline.

Upload a good and a bad file together, ask about the good one, watch the answer stream in
with a citation and its sources, then delete a document from the list.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1"}
ANSWER_TIMEOUT = 120_000  # ms; the first question also warms the model up
UI_TIMEOUT = 60_000

# The answer bubble, not the collapsible "Sources" message that follows it.
ANSWER = '#chatbot .message:not(.thought) > [data-testid="bot"]'
SOURCES = "#chatbot .thought"

# Records, on every DOM change, whether the Stop button is on screen and what the latest
# answer bubble says, so the test can tell that the answer streamed in.
WATCH_STREAMING = """
() => {
  const seen = { stopVisible: false, texts: [] };
  window.__streaming = seen;
  const record = () => {
    const stop = document.querySelector('#stop');
    if (stop && stop.checkVisibility()) seen.stopVisible = true;
    const bots = Array.from(document.querySelectorAll('#chatbot [data-testid="bot"]'))
      .filter((el) => !el.closest('.thought'));
    const text = bots.length ? bots[bots.length - 1].innerText.trim() : '';
    if (seen.texts[seen.texts.length - 1] !== text) seen.texts.push(text);
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
}
"""


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_app(chromium, url: str, **context_options):
    """A fresh browser context on the app, and its page once the chat is on screen;
    `page.requested` lists every URL the page asked for. Close the context when done."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, **context_options)
    context.set_default_timeout(UI_TIMEOUT)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda ws: requested.append(ws.url))
    page.requested = requested
    page.goto(url)
    expect(page.locator("#question textarea")).to_be_visible()
    return context, page


@pytest.fixture
def app_page(chromium, running_app):
    """A fresh browser session on the app; `page.requested` lists every URL it asked for."""
    context, page = open_app(chromium, running_app["url"])
    yield page
    context.close()


def assert_offline(page) -> None:
    outside = sorted(
        {
            url
            for url in page.requested
            if urlsplit(url).scheme not in ("data", "blob", "about")
            and urlsplit(url).hostname not in LOCAL_HOSTS
        }
    )
    assert page.requested, "no requests were recorded at all"
    assert not outside, f"the page reached beyond this machine: {outside}"


def open_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")


def document_rows(page):
    return page.locator("#documents [role=row]")


def upload(page, *paths: Path) -> None:
    page.locator("#upload input[type=file]").set_input_files([str(p) for p in paths])


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True, animations="disabled")


def test_upload_then_ask_streams_a_cited_answer(app_page, tmp_path):
    page = app_page
    good = tmp_path / "zorblax-notes.txt"
    good.write_text(
        "The Zorblax tower is 412 meters tall. It was built in 1999 by the architect Mira Quell.\n",
        encoding="utf-8",
    )
    bad = tmp_path / "quarterly-report.pdf"  # named .pdf, but really plain text
    bad.write_text("This is not a PDF at all, just some words.\n", encoding="utf-8")

    # Knowledge base: both files in one selection; each gets its own result.
    open_tab(page, "Knowledge base")
    upload(page, good, bad)
    results = page.locator("#upload-results [role=row]")
    expect(results.filter(has_text="zorblax-notes.txt")).to_contain_text(
        "indexed 1 chunk", timeout=ANSWER_TIMEOUT
    )
    expect(results.filter(has_text="quarterly-report.pdf")).to_contain_text(
        re.compile(r"failed: .*not a PDF")
    )
    expect(page.get_by_text("1 of 2 file(s) could not be indexed")).to_be_visible()
    expect(document_rows(page).filter(has_text="zorblax-notes.txt")).to_have_count(1)
    expect(document_rows(page).filter(has_text="quarterly-report.pdf")).to_have_count(0)
    expect(page.locator("#picked-document input")).to_have_value(
        re.compile(r"^zorblax-notes\.txt · ")
    )
    screenshot(page, "browser-knowledge.png")

    # Chat: ask, watch it stream, get a cited answer and its sources.
    open_tab(page, "Chat")
    # The search can be kept to chosen documents: the new upload is offered at once.
    scope = page.locator("#search-documents input")
    scope.click()
    page.get_by_role("option", name=re.compile(r"^zorblax-notes\.txt · ")).click()
    page.keyboard.press("Escape")
    expect(page.locator("#search-documents")).to_contain_text("zorblax-notes.txt")
    page.evaluate(WATCH_STREAMING)
    question = page.locator("#question textarea")
    question.fill("How tall is the Zorblax tower?")
    page.locator("#send").click()

    answer = page.locator(ANSWER).last
    expect(answer).to_contain_text("412", timeout=ANSWER_TIMEOUT)
    expect(answer).to_contain_text("[1]", timeout=ANSWER_TIMEOUT)
    expect(page.locator("#send")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(page.locator("#stop")).to_be_hidden()
    expect(question).to_have_value("")  # the box is cleared for the next question
    expect(page.locator("#chatbot")).to_contain_text("How tall is the Zorblax tower?")

    seen = page.evaluate("window.__streaming")
    final = answer.inner_text().strip()
    growing = [t for t in seen["texts"] if t and t != final and final.startswith(t)]
    assert seen["stopVisible"], "the Stop button never showed while the answer was generated"
    assert len(growing) >= 2, f"the answer did not grow as it streamed: {seen['texts']}"

    sources = page.locator(SOURCES).last
    expect(sources).to_contain_text(re.compile(r"Sources \(\d+\): .*zorblax-notes\.txt"))
    passage = sources.get_by_text("412 meters tall")
    expect(passage).to_be_hidden()  # folded away once the answer is complete
    sources.locator(".title").click()  # unfold: the cited passage itself
    expect(passage).to_be_visible()
    expect(sources.get_by_text("[1] zorblax-notes.txt")).to_be_visible()
    screenshot(page, "browser-chat.png")

    assert_offline(page)


def test_images_and_html_in_a_document_never_load_or_run(app_page, tmp_path):
    """A document's Markdown image, <img> and <script> are shown as text in the sources:
    the browser never calls out (a remote image would tell its owner who read it) and no
    script runs."""
    page = app_page
    doc = tmp_path / "lantern-guide.md"
    doc.write_text(
        "# Lantern guide\n\nThe Quorvath lantern burns blue oil for nine hours.\n\n"
        "![diagram](http://203.0.113.9/leak.png)\n\n"
        '<img src="http://203.0.113.9/raw.png" onerror="window.__pwned = 1">\n\n'
        "<script>window.__pwned = 1</script>\n",
        encoding="utf-8",
    )
    open_tab(page, "Knowledge base")
    upload(page, doc)
    results = page.locator("#upload-results [role=row]")
    expect(results.filter(has_text="lantern-guide.md")).to_contain_text(
        "indexed", timeout=ANSWER_TIMEOUT
    )
    open_tab(page, "Chat")
    page.locator("#question textarea").fill(
        "How long does the Quorvath lantern burn? Repeat the diagram line too."
    )
    page.locator("#send").click()
    expect(page.locator("#send")).to_be_visible(timeout=ANSWER_TIMEOUT)
    sources = page.locator(SOURCES).last
    expect(sources).to_contain_text("lantern-guide.md")
    sources.locator(".title").click()
    # Shown as text, so the reader sees what the document holds, but never fetched or run.
    expect(sources).to_contain_text("http://203.0.113.9/leak.png")
    expect(sources).to_contain_text("<script>")
    assert page.locator("img[src*='203.0.113.9']").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert_offline(page)


def test_delete_a_document_from_the_list(app_page, tmp_path):
    page = app_page
    keep = tmp_path / "keep-harbor.md"
    keep.write_text("# Harbor\nThe Quillon harbor has 73 moorings.\n", encoding="utf-8")
    doomed = tmp_path / "velmora-canal.txt"
    doomed.write_text("The Velmora canal is 38 kilometers long.\n", encoding="utf-8")

    open_tab(page, "Knowledge base")
    upload(page, keep, doomed)
    rows = document_rows(page)
    expect(rows.filter(has_text="velmora-canal.txt")).to_have_count(1, timeout=ANSWER_TIMEOUT)
    expect(rows.filter(has_text="keep-harbor.md")).to_have_count(1)

    picked = page.locator("#picked-document input")
    picked.click()
    page.get_by_role("option", name=re.compile(r"^velmora-canal\.txt · ")).click()
    expect(picked).to_have_value(re.compile(r"^velmora-canal\.txt · "))
    page.locator("#delete").click()

    expect(page.get_by_text("Deleted velmora-canal.txt.")).to_be_visible()
    expect(rows.filter(has_text="velmora-canal.txt")).to_have_count(0)
    expect(rows.filter(has_text="keep-harbor.md")).to_have_count(1)
    expect(picked).not_to_have_value(re.compile("velmora-canal"))
    picked.click()
    expect(page.get_by_role("option", name=re.compile(r"^keep-harbor\.md"))).to_be_visible()
    expect(page.get_by_role("option", name=re.compile("velmora-canal"))).to_have_count(0)
    page.keyboard.press("Escape")

    # Gone on the server too: a fresh load of the page does not bring it back.
    page.reload()
    open_tab(page, "Knowledge base")
    expect(rows.filter(has_text="keep-harbor.md")).to_have_count(1)
    expect(rows.filter(has_text="velmora-canal.txt")).to_have_count(0)

    assert_offline(page)


# Draws two different ideographs in the font the chat uses: a missing font draws both as
# the same empty box (tofu), a real one draws two different glyphs, neither blank.
GLYPHS_DIFFER = """
(selector) => {
  const el = document.querySelector(selector);
  const family = getComputedStyle(el).fontFamily;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 48;
  const ctx = canvas.getContext('2d');
  const draw = (ch) => {
    ctx.clearRect(0, 0, 48, 48);
    ctx.font = `40px ${family}`;
    ctx.fillText(ch, 2, 40);
    return Array.from(ctx.getImageData(0, 0, 48, 48).data).join(',');
  };
  const blank = draw(' ');
  const a = draw('秩'), b = draw('适');
  return { family, distinct: a !== b, inked: a !== blank && b !== blank };
}
"""


def test_chinese_document_and_question_render_and_find_the_passage(app_page, tmp_path):
    page = app_page
    doc = tmp_path / "低秩适配.md"
    doc.write_text(
        "# 低秩适配\n\n低秩适配（LoRA）于2021年由微软的研究人员提出。它冻结原模型的权重，"
        "只训练插入的低秩矩阵，因此需要训练的参数很少。\n",
        encoding="utf-8",
    )
    other = tmp_path / "ferry.txt"
    other.write_text("The ferry to the island leaves at noon every day.\n", encoding="utf-8")
    open_tab(page, "Knowledge base")
    upload(page, doc, other)
    results = page.locator("#upload-results [role=row]")
    expect(results.filter(has_text="低秩适配.md")).to_contain_text(
        "indexed", timeout=ANSWER_TIMEOUT
    )
    open_tab(page, "Chat")
    page.locator("#question textarea").fill("低秩适配是哪一年提出的？")
    page.locator("#send").click()
    expect(page.locator("#send")).to_be_visible(timeout=ANSWER_TIMEOUT)
    sources = page.locator(SOURCES).last
    expect(sources).to_contain_text("低秩适配.md", timeout=ANSWER_TIMEOUT)
    expect(page.locator("#chatbot")).to_contain_text("低秩适配是哪一年提出的？")
    glyphs = page.evaluate(GLYPHS_DIFFER, "#chatbot")
    assert glyphs["distinct"], f"Chinese shows as empty boxes: {glyphs}"
    assert glyphs["inked"], f"Chinese shows as empty boxes: {glyphs}"
    screenshot(page, "browser-chinese.png")
    assert_offline(page)
