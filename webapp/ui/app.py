"""Builds the whole Gradio app from a Services object, and launches it."""

from __future__ import annotations

import base64
from pathlib import Path

import gradio as gr

from webapp.ui.adapters_tab import build_adapters_tab
from webapp.ui.api import build_api
from webapp.ui.chat_tab import build_chat_tab
from webapp.ui.evaluate_tab import build_evaluate_tab
from webapp.ui.knowledge_tab import build_knowledge_tab

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TITLE = "DocChat"


def logo_data_uri() -> str:
    """The logo inline, so the page never reveals where the app is installed."""
    svg = (ASSETS / "logo.svg").read_bytes()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def theme() -> gr.themes.Theme:
    # System fonts only: the theme's default web font would make every browser call out.
    sans = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate", font=sans, font_mono=mono
    )


def build_app(services) -> gr.Blocks:
    # Uploads are copied into storage at once; Gradio's own copies go after an hour.
    with gr.Blocks(title=TITLE, delete_cache=(600, 3600), fill_width=True) as demo:
        with gr.Row(elem_id="header"):
            gr.HTML(
                f"<div class='brand'><img src='{logo_data_uri()}' alt=''>"
                f"<div><h1>{TITLE}</h1><p>Chat with your own documents — private, offline, "
                "with sources.</p></div></div>"
            )
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat_model = build_chat_tab(services)
            with gr.Tab("Knowledge base", id="knowledge"):
                refresh, targets = build_knowledge_tab(services)
            with gr.Tab("Adapters", id="adapters"):
                # The tab refreshes the chat's model selector after training, delete, import.
                adapters_refresh, adapters_inputs, adapters_targets = build_adapters_tab(
                    services, chat_model
                )
            with gr.Tab("Evaluate", id="evaluate") as evaluate_tab:
                eval_refresh, eval_inputs, eval_targets = build_evaluate_tab(services, chat_model)
        # Adapters and runs made elsewhere appear when the tab is opened.
        evaluate_tab.select(eval_refresh, eval_inputs, eval_targets, api_visibility="private")
        build_api(services)
        demo.load(refresh, None, targets, api_visibility="private")
        demo.load(adapters_refresh, adapters_inputs, adapters_targets, api_visibility="private")
        demo.load(eval_refresh, eval_inputs, eval_targets, api_visibility="private")
    demo.queue(default_concurrency_limit=2, max_size=64)
    return demo


def launch_options(settings) -> dict:
    storage = settings.storage_dir.resolve()
    return dict(
        server_name=settings.host,
        server_port=settings.port,
        theme=theme(),
        css_paths=[ASSETS / "style.css"],
        favicon_path=ASSETS / "logo.svg",
        blocked_paths=[str(storage), str(Path(".env").resolve())],
        # Per-file limits are checked by the knowledge base with a clear message per file;
        # this bound only stops absurd requests before they reach it.
        max_file_size=f"{int(settings.max_upload_mb * 4)}mb",
        show_error=True,
        footer_links=["api"],
    )
