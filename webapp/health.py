"""The readiness report behind GET /health (load balancers, container health checks): is the
document store reachable, and are the embedder and generator ready? Asking never loads a
model: one not loaded yet is reported so, and a remote one is asked whether it answers now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from webapp.config import Settings

Check = dict[str, Any]  # {"ok": bool, "detail": str}


class Health:
    def __init__(
        self,
        settings: Settings,
        chroma: Callable[[], Any],
        models: Mapping[str, Callable[[], object | None]],
    ) -> None:
        """`chroma()` opens (or gives) the Chroma client and may raise StoreUnavailable;
        `models`: by name, each model if it is loaded, else None."""
        self.settings = settings
        self.chroma = chroma
        self.models = models

    def report(self) -> dict[str, Any]:
        """Readiness of each dependency: {"ok": bool, "checks": {name: {"ok", "detail"}}}."""
        from webapp.knowledge import store

        checks = {"documents": store.health(self.chroma, self.settings)}
        checks.update((name, check_model(loaded())) for name, loaded in self.models.items())
        return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


def check_model(model: object | None) -> Check:
    """The local model: ok once loaded; a remote one: does it answer right now?"""
    if model is None:
        return {"ok": False, "detail": "not loaded yet"}
    check: Callable[[], Check] | None = getattr(model, "check", None)
    if check is None:
        return {"ok": True, "detail": "local model"}
    return check()
