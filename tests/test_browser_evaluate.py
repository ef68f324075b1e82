"""Measuring RAG against the model alone, as a user does it: Chromium against `webapp serve`.

Upload the demo documents, load the demo question set, run base and base + RAG, watch the
progress, then read the scores, the grouped bar chart and one question's answers; split the
set by document and save it; reload the saved run after a page reload.
"""

from __future__ import annotations

import re

import pytest

from tests import test_browser
from tests.conftest import DEMO, DEMO_DOCS
from tests.test_browser import (
    ANSWER_TIMEOUT,
    UI_TIMEOUT,
    assert_offline,
    expect,
    open_tab,
    screenshot,
    upload,
)
from tests.test_browser_adapters import ask_alone, dismiss_toasts

chromium = test_browser.chromium
app_page = test_browser.app_page
pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVAL_TIMEOUT = 300_000  # ms; 17 questions x 2 configurations on a 2-core CPU take ~1 min


def test_evaluate_rag_against_the_model_alone(app_page):
    page = app_page
    open_tab(page, "Knowledge base")
    upload(page, *DEMO_DOCS)
    expect(page.locator("#upload-results [role=row]").nth(len(DEMO_DOCS))).to_be_visible(
        timeout=UI_TIMEOUT
    )

    open_tab(page, "Evaluate")
    with page.expect_file_chooser() as chooser:
        page.locator("#upload-questions").click()
    chooser.value.set_files(str(DEMO / "questions.jsonl"))
    expect(page.locator("#qa-summary")).to_contain_text("13 question(s) from 2 document(s)")
    expect(page.locator("#qa-table")).to_contain_text("Marta Lindqvist")

    page.locator("#run-eval").click()
    status = page.locator("#eval-status")
    expect(page.locator("#cancel-eval")).to_be_visible()
    expect(status.locator("progress")).to_be_visible()
    expect(status).to_contain_text("question")
    # The chat keeps answering while the evaluation runs.
    answer = ask_alone(page, "Say hello in one short sentence.")
    expect(answer).to_have_text(re.compile(r"\w"), timeout=ANSWER_TIMEOUT)
    expect(page.locator("#stop")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    open_tab(page, "Evaluate")
    expect(status).to_contain_text("Done: 13 questions", timeout=EVAL_TIMEOUT)
    expect(page.locator("#run-eval")).to_be_visible()
    expect(page.locator("#cancel-eval")).to_be_hidden()

    results = page.locator("#eval-results")
    expect(results).to_contain_text("base + RAG")
    chart = page.locator("#eval-chart")
    drawn = chart.locator(".vega-embed canvas, .vega-embed svg").first
    expect(drawn).to_be_visible()
    assert drawn.bounding_box()["width"] > 300
    expect(chart).not_to_contain_text("Open in Vega Editor")  # no menu that posts data out
    # A question's answers and the passages they were given.
    page.locator("#eval-drilldown [role=row]").nth(1).locator("[role=gridcell]").nth(1).click()
    detail = page.locator("#eval-detail")
    expect(detail).to_contain_text("Gold answer: Marta Lindqvist")
    expect(detail).to_contain_text("harbor-lights-handbook.md")
    expect(page.locator("#export-csv")).to_be_visible()

    # Split by document and save: each document's questions land on one side.
    page.locator("#split-set").click()
    expect(page.locator("#qa-summary")).to_contain_text("for testing")
    page.locator("#set-name input, #set-name textarea").first.fill("harbor")
    page.locator("#save-set").click()
    expect(page.locator("#saved-sets input")).to_have_value("harbor", timeout=UI_TIMEOUT)
    dismiss_toasts(page)
    page.mouse.move(0, 0)
    screenshot(page, "browser-evaluate.png")

    # After a reload, the run is still there to open.
    page.reload()
    open_tab(page, "Evaluate")
    page.locator("#saved-runs input").click()
    page.get_by_role("option").first.click()
    expect(page.locator("#eval-results")).to_contain_text("base + RAG", timeout=UI_TIMEOUT)

    # Cancel stops a run between two questions and saves nothing.
    page.locator("#saved-sets input").click()
    page.get_by_role("option", name="harbor").click()
    expect(page.locator("#qa-summary")).to_contain_text("13 question(s)")
    page.locator("#run-eval").click()
    expect(status).to_contain_text("question", timeout=UI_TIMEOUT)
    page.locator("#cancel-eval").click()
    expect(status).to_contain_text("cancelled", timeout=UI_TIMEOUT)
    expect(page.locator("#run-eval")).to_be_visible()
    page.locator("#saved-runs input").click()
    expect(page.get_by_role("option")).to_have_count(1)
    assert_offline(page)
