"""The embedding model (LlamaIndex's HuggingFaceEmbedding over sentence-transformers)."""

from __future__ import annotations

from collections.abc import Callable


def load_embedder(path: str, device: str = "cpu"):
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=path, device=device, embed_batch_size=32)


def token_counter(embedder) -> Callable[[str], list[int]]:
    """The embedder's own tokenizer, so chunk sizes are measured in the tokens it reads."""
    tokenizer = embedder._model.tokenizer
    return lambda text: tokenizer.encode(text, add_special_tokens=False, verbose=False)


def embedder_window(embedder) -> int:
    return int(embedder._model.max_seq_length or 256)
