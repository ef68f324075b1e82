"""Event helpers the tabs share."""

from __future__ import annotations

from typing import Any


def always_after(event, fn, outputs) -> None:
    """Run `fn` once the event has ended, whether it succeeded or raised: in Gradio 6 `.then`
    is skipped after an error, and only `.failure` listeners run then."""
    for follow in (event.then, event.failure):
        follow(fn, None, outputs, api_visibility="private", queue=False)


# Events the page uses but API callers do not see (gr.api's named endpoints are the API).
PRIVATE: dict[str, Any] = {"api_visibility": "private"}
