"""The Adapters tab: teach the model your own data, watch it learn, manage what it made.

Training runs as a background job (webapp.adapters.jobs) on its own copy of the base model.
The Train event only submits the job and then polls it twice a second for the status line,
the progress bar and the loss curve; it has its own concurrency group, so the chat keeps
answering meanwhile. The job id lives in a per-session gr.State, which is all Cancel needs.
The list of adapters feeds the Chat tab's model selector, refreshed after every change.

layout builds the components, handlers holds what each event does (testable without a
browser), wiring connects them, views turns jobs and adapters into the status line, the
loss curve and the table.
"""

from __future__ import annotations

import gradio as gr

from webapp.ui.adapters import layout, wiring


def build_adapters_tab(services, chat_model: gr.Dropdown) -> tuple:
    """Builds the tab; returns (refresh, inputs, outputs) for the page load.

    `chat_model` is the Chat tab's model selector: every change here refreshes its choices.
    """
    return wiring.wire(services, layout.build(chat_model))
