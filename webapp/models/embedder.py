"""The embedding model (LlamaIndex's HuggingFaceEmbedding over sentence-transformers)."""

from __future__ import annotations

from collections.abc import Callable

from webapp.models import compute


def load_embedder(path: str, device: str = "cpu", bf16: bool = False):
    """bf16 (on CPUs with native bf16): 2.6x the chunks/s of fp32 on 2 cores, embeddings
    within cosine 0.996 of fp32 on SciFact abstracts (see the README's benchmarks)."""
    import torch

    options = {"model_kwargs": {"dtype": torch.bfloat16}} if bf16 else {}
    return huggingface_embedding(model_name=path, device=device, embed_batch_size=32, **options)


def huggingface_embedding(**kwargs):
    """LlamaIndex's HuggingFaceEmbedding(**kwargs), loaded and computing on the compute
    thread (webapp.models.compute): every query, text and batch goes through `_embed`."""
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return compute.run(compute.computing(HuggingFaceEmbedding, "_embed"), **kwargs)


def token_counter(embedder) -> Callable[[str], list[int]]:
    """The embedder's own tokenizer, so chunk sizes are measured in the tokens it reads (a
    remote embedder brings a local one: see models.remote_embedder)."""
    tokenizer = getattr(embedder, "counting_tokenizer", None) or embedder._model.tokenizer
    return lambda text: tokenizer.encode(text, add_special_tokens=False, verbose=False)
