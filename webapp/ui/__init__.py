"""The Gradio web UI: one module per tab, plus the named API endpoints. The only package that
imports gradio."""
