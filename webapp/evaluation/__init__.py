"""Measuring answers and retrieval on the user's own questions: RAG, adapters, or both."""
