"""Answering questions: prompts within the context budget, follow-up rewriting, streaming."""
