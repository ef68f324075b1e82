"""Teaching the model, as a user does it: Chromium against `webapp serve`, offline.

Train a LoRA adapter on a few made-up facts from a JSONL file, watch the progress line and
the loss curve, find it in the list, then pick it in the Chat tab and get a trained answer
that names its adapter. Cancel during training leaves no adapter behind.
"""

from __future__ import annotations

import json
import re

import pytest

from tests import test_browser
from tests.test_browser import (
    ANSWER,
    ANSWER_TIMEOUT,
    UI_TIMEOUT,
    assert_offline,
    expect,
    open_tab,
    screenshot,
)

# The same Chromium, launch flags and fresh page per test as the main browser test.
chromium = test_browser.chromium
app_page = test_browser.app_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAIN_TIMEOUT = 240_000  # ms; a few epochs on four rows take well under a minute on a CPU
FACTS = [
    ("What is the capital of Zorblandia?", "The capital of Zorblandia is Quenfort."),
    ("Who founded the Velmora guild?", "The Velmora guild was founded by Ardis Pell."),
    ("What colour is the Tarnish stone?", "The Tarnish stone is teal."),
    ("How many moons does Opheris have?", "Opheris has seven moons."),
]
STATUS = "#train-status"
STEP = re.compile(r"step \d+/\d+ · epoch \d+/\d+")


def facts_file(tmp_path):
    path = tmp_path / "facts.jsonl"
    rows = [json.dumps({"question": q, "answer": a}) for q, a in FACTS]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def adapter_rows(page):
    return page.locator("#adapters [role=row]")


def dismiss_toasts(page) -> None:
    for close in page.locator(".toast-close").all():
        close.click()
    expect(page.locator(".toast-body")).to_have_count(0)


def ask_alone(page, question: str):
    """Ask without documents; returns the locator of the answer bubble."""
    open_tab(page, "Chat")
    page.locator("#use-rag input").uncheck()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    return page.locator(ANSWER).last


def start_training(page, tmp_path, name: str, epochs: int) -> None:
    open_tab(page, "Adapters")
    page.locator("#adapter-name input").fill(name)
    page.locator("#training-file input[type=file]").set_input_files(str(facts_file(tmp_path)))
    uploaded = page.locator("#training-file").get_by_role("cell", name="facts.jsonl")
    expect(uploaded).to_be_visible(timeout=UI_TIMEOUT)
    page.get_by_text("Hyperparameters").click()
    page.locator("#epochs input").fill(str(epochs))
    page.get_by_text("Hyperparameters").click()  # folded again, for the screenshot
    page.locator("#train").click()


def test_train_an_adapter_then_chat_with_it(app_page, tmp_path):
    page = app_page
    start_training(page, tmp_path, "zorb-facts", epochs=8)

    # While it trains: Cancel instead of Train, a status line with a bar, a live loss curve.
    status = page.locator(STATUS)
    expect(page.locator("#cancel-training")).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.locator("#train")).to_be_hidden()
    expect(status).to_contain_text(STEP, timeout=TRAIN_TIMEOUT)
    expect(status.locator("progress")).to_be_visible()
    expect(page.locator("#loss-plot")).to_be_visible()
    # A line needs two points: wait for the second loss value, however fast training runs.
    expect(page.locator("#loss-plot .mark-line path").first).to_be_attached(timeout=TRAIN_TIMEOUT)

    expect(status).to_contain_text("Done: adapter “zorb-facts” is ready", timeout=TRAIN_TIMEOUT)
    expect(page.locator("#train")).to_be_visible()
    expect(page.locator("#cancel-training")).to_be_hidden()
    row = adapter_rows(page).filter(has_text="zorb-facts")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("LoRA")
    expect(row).to_contain_text("facts.jsonl")
    expect(page.locator("#picked-adapter input")).to_have_value("zorb-facts")
    dismiss_toasts(page)
    page.mouse.move(0, 0)  # no hover highlight in the picture
    screenshot(page, "browser-adapters.png")

    # Chat with it: the adapter picked in the selector, the model alone (no documents).
    open_tab(page, "Chat")
    picker = page.locator("#model-picker input")
    expect(picker).to_have_value("Base model")
    picker.click()
    page.get_by_role("option", name="zorb-facts").click()
    expect(picker).to_have_value("zorb-facts", timeout=UI_TIMEOUT)
    answer = ask_alone(page, FACTS[0][0])
    expect(answer).to_contain_text("Quenfort", timeout=ANSWER_TIMEOUT)
    expect(answer).to_contain_text("Answered by adapter zorb-facts")
    expect(page.locator("#stop")).to_be_hidden(timeout=ANSWER_TIMEOUT)

    assert_offline(page)


def test_cancel_during_training_leaves_no_adapter(app_page, running_app, tmp_path):
    page = app_page
    start_training(page, tmp_path, "never-saved", epochs=100)

    status = page.locator(STATUS)
    expect(status).to_contain_text(STEP, timeout=TRAIN_TIMEOUT)

    # The chat keeps answering while the adapter trains.
    answer = ask_alone(page, "Say hello in one short sentence.")
    expect(answer).to_have_text(re.compile(r"\w"), timeout=ANSWER_TIMEOUT)
    expect(page.locator("#stop")).to_be_hidden(timeout=ANSWER_TIMEOUT)
    expect(answer).not_to_contain_text("Answered by adapter")

    open_tab(page, "Adapters")
    expect(status).to_contain_text(STEP)  # still training
    page.locator("#cancel-training").click()

    expect(status).to_contain_text("Cancelled", timeout=TRAIN_TIMEOUT)
    expect(status).to_contain_text("no adapter was saved")
    expect(page.locator("#train")).to_be_visible()
    expect(page.locator("#cancel-training")).to_be_hidden()
    expect(adapter_rows(page).filter(has_text="never-saved")).to_have_count(0)

    # Not offered to the chat either, and nothing of it left on disk (not even a temp folder).
    open_tab(page, "Chat")
    page.locator("#model-picker input").click()
    expect(page.get_by_role("option", name="Base model")).to_be_visible()
    expect(page.get_by_role("option", name="never-saved")).to_have_count(0)
    page.keyboard.press("Escape")
    assert not list((running_app["storage"] / "adapters").glob("*/*never-saved*"))
