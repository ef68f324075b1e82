"""Finding the passages that answer a question, as LlamaIndex retrievers and source records."""
