"""The Chat tab: streamed answers with numbered citations and their sources underneath.

The conversation lives in a per-session gr.State (plain text turns, what the model sees);
the Chatbot only displays it. Stop cancels the streaming event, which ends generation.
The model selector (base model or one of the owner's adapters) is a per-session value too;
the Adapters tab refreshes its choices.

layout builds the components, handlers holds what each event does (testable without a
browser), wiring connects them, views turns answers into chat messages and holds the
model selector's and the file kinds' choices.
"""

from __future__ import annotations

from webapp.ui.chat import layout, wiring


def build_chat_tab(services) -> tuple:
    """Builds the tab; returns the model selector (the Adapters tab refreshes its choices)
    and the (function, inputs, outputs) that refreshes the search-scope pickers."""
    return wiring.wire(services, layout.build(services.settings))
