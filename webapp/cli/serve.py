"""`webapp serve [--host H] [--port P]`: the web app (the options override WEBAPP_HOST/PORT)."""

from __future__ import annotations


def settings_overrides(args) -> dict:
    """--host and --port, where given, for the Settings."""
    given = (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
    return {k: v for k, v in given if v}


def cmd_serve(settings, args) -> int:
    from webapp.app import serve

    serve(settings)
    return 0
