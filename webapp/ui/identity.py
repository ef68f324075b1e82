"""Who is asking. The owner always comes from the server side, never from a client-sent id.

Local mode: one local user. (Password, Hugging Face OAuth and anonymous workspaces plug in
here, so every handler already asks this function instead of trusting the client.)
"""

from __future__ import annotations

import gradio as gr

from webapp.config import Settings


def owner_of(request: gr.Request | None, settings: Settings) -> str:
    return settings.local_user
