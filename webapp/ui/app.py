"""Builds the whole Gradio app from a Services object, and launches it."""

from __future__ import annotations

import base64
import functools
from pathlib import Path

import gradio as gr

from webapp.errors import WebappError
from webapp.ui.account import build_account_bar, build_delete_all
from webapp.ui.adapters import build_adapters_tab
from webapp.ui.api import build_api
from webapp.ui.chat import build_chat_tab
from webapp.ui.evaluate import build_evaluate_tab
from webapp.ui.i18n import i18n
from webapp.ui.knowledge import build_knowledge_tab

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TITLE = "DocChat"


def logo_data_uri() -> str:
    """The logo inline, so the page never reveals where the app is installed."""
    svg = (ASSETS / "logo.svg").read_bytes()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def theme() -> gr.themes.Theme:
    # System fonts only: the theme's default web font would make every browser call out.
    # The CJK ones (macOS, Windows, Linux) so Chinese text never falls back to boxes.
    cjk = [
        "PingFang SC",
        "Hiragino Sans GB",
        "Microsoft YaHei",
        "Noto Sans CJK SC",
        "Source Han Sans SC",
        "WenQuanYi Micro Hei",
    ]
    sans = [
        "ui-sans-serif",
        "system-ui",
        "Segoe UI",
        "Roboto",
        "Helvetica",
        "Arial",
        *cjk,
        "sans-serif",
    ]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate", font=sans, font_mono=mono
    )


def build_app(services) -> gr.Blocks:
    if services.settings.auth == "hf":
        _check_hf_sign_in_available()
    # Uploads are copied into storage at once; Gradio's own copies go after an hour.
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600), fill_width=True) as demo:
        with gr.Row(elem_id="header", equal_height=False):
            gr.HTML(
                scale=3,
                padding=False,
                value=f"<div class='brand'><img src='{logo_data_uri()}' alt=''>"
                f"<div><h1>{TITLE}</h1><p>{i18n('header_tagline')}</p></div></div>",
            )
            account_fill, account_targets = build_account_bar(services)
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab(i18n("tab_chat"), id="chat") as chat_tab:
                chat_model, scope_refresh = build_chat_tab(services)
            with gr.Tab(i18n("tab_knowledge"), id="knowledge"):
                refresh, targets, blank_uploads = build_knowledge_tab(services)
            with gr.Tab(i18n("tab_adapters"), id="adapters"):
                # The tab refreshes the chat's model selector after training, delete, import.
                adapters_refresh, adapters_inputs, adapters_targets = build_adapters_tab(
                    services, chat_model
                )
            with gr.Tab(i18n("tab_evaluate"), id="evaluate") as evaluate_tab:
                eval_refresh, eval_inputs, eval_targets, blank_results = build_evaluate_tab(
                    services, chat_model
                )
        scope_fn, scope_inputs, scope_outputs = scope_refresh
        scope = (when_signed_in(scope_fn, 2), scope_inputs, scope_outputs)
        refreshes = [
            scope,
            (when_signed_in(refresh, len(targets)), None, targets),
            (
                when_signed_in(adapters_refresh, len(adapters_targets)),
                adapters_inputs,
                adapters_targets,
            ),
            (when_signed_in(eval_refresh, len(eval_targets)), eval_inputs, eval_targets),
        ]
        build_delete_all(services, refreshes)
        # Adapters and runs made elsewhere appear when the tab is opened.
        evaluate_tab.select(*refreshes[3], api_visibility="private")
        chat_tab.select(*scope, api_visibility="private")  # documents added meanwhile
        build_api(services)
        demo.load(account_fill, None, account_targets, api_visibility="private")
        for fn, outputs in (blank_uploads, blank_results):  # empty tables' headers
            demo.load(fn, None, outputs, api_visibility="private", queue=False)
        for fn, inputs, outputs in refreshes:
            demo.load(fn, inputs, outputs, api_visibility="private")
    demo.queue(default_concurrency_limit=2, max_size=services.settings.queue_max)
    return demo


def when_signed_in(fn, outputs: int):
    """A page-load refresh that leaves the page as it is for a visitor not yet signed in
    (Hugging Face mode before sign-in) instead of showing an error."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except WebappError:
            skip = tuple(gr.skip() for _ in range(outputs))
            return skip if outputs > 1 else skip[0]

    return run


def launch_options(services) -> dict:
    settings = services.settings
    storage = settings.storage_dir.resolve()
    sign_in = _sign_in_options(services)
    app_kwargs = {"routes": [_health_route(services)], **sign_in.pop("app_kwargs", {})}
    return dict(
        **sign_in,
        app_kwargs=app_kwargs,
        server_name=settings.host,
        server_port=settings.port,
        theme=theme(),
        css_paths=[ASSETS / "style.css"],
        head_paths=[ASSETS / "language.html"],  # tab labels follow a language switch
        favicon_path=ASSETS / "logo.svg",
        blocked_paths=[str(storage), str(Path(".env").resolve())],
        # Per-file limits are checked by the knowledge base with a clear message per file;
        # this bound only stops absurd requests before they reach it.
        max_file_size=f"{int(settings.max_upload_mb * 4)}mb",
        # Locally the owner sees unexpected errors; public visitors see plain messages only.
        show_error=not settings.public,
        footer_links=["api", "settings"],  # Settings: the language, switchable
        i18n=i18n,  # the page in the browser's language (webapp.ui.i18n)
    )


def _sign_in_options(services) -> dict:
    settings = services.settings
    match settings.auth:
        case "password":
            if not services.users.names():
                raise WebappError(
                    "Password mode needs at least one user: create one with "
                    "`webapp users add NAME` (the password is read from standard input)."
                )
            return dict(auth=services.users.verify, auth_message="Sign in to DocChat.")
        case "anonymous":
            from starlette.middleware import Middleware

            from webapp.ui.identity import WorkspaceCookie

            cookie = Middleware(
                WorkspaceCookie,
                workspaces=services.workspaces,
                max_age_s=int(settings.anonymous_idle_minutes * 60),
            )
            return dict(app_kwargs={"middleware": [cookie]})
    return {}


def _check_hf_sign_in_available() -> None:
    """Hugging Face sign-in needs a Space (or, for a local try-out, a logged-in HF token)."""
    import os

    from huggingface_hub import get_token

    if not os.environ.get("SPACE_ID") and get_token() is None:
        raise WebappError(
            "Hugging Face sign-in (WEBAPP_AUTH=hf) works on a Space with `hf_oauth: true` in "
            "its README. On your own server use WEBAPP_AUTH=password or anonymous."
        )


def _health_route(services):
    """GET /health: each dependency's readiness as JSON; 503 while one is down (for load
    balancers and container health checks). Says nothing about users or their data."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def health(request):
        report = services.health.report()
        return JSONResponse(report, status_code=200 if report["ok"] else 503)

    return Route("/health", health, methods=["GET"])
