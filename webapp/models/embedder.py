"""The embedding model (LlamaIndex's HuggingFaceEmbedding over sentence-transformers)."""

from __future__ import annotations

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


def token_counter(embedder) -> TokenCounter:
    """The embedder's own tokenizer, so chunk sizes are measured in the tokens it reads (a
    remote embedder brings a local one: see models.remote_embedder)."""
    return TokenCounter(getattr(embedder, "counting_tokenizer", None) or embedder._model.tokenizer)


class TokenCounter:
    """Tokens of a text (`counter(text)`, what LlamaIndex's splitters call) and token counts
    of many texts in one call (`counter.lengths(texts)`), through the Rust tokenizer when
    there is one: half the time of one `encode` per text."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._fast = None
        if backend is not None:
            # A copy of its own: transformers sets truncation on the shared one per call
            # (the embedder's 256 tokens), which would cap every count here.
            from tokenizers import Tokenizer

            self._fast = Tokenizer.from_str(backend.to_str())
            self._fast.no_truncation()
            self._fast.no_padding()

    def __call__(self, text: str) -> list[int]:
        if self._fast is not None:
            return self._fast.encode(text, add_special_tokens=False).ids
        return self.tokenizer.encode(text, add_special_tokens=False, verbose=False)

    def lengths(self, texts: list[str]) -> list[int]:
        if self._fast is None:
            return [len(self(text)) for text in texts]
        out: list[int] = []
        for start in range(0, len(texts), 1024):  # an Encoding holds offsets and masks too
            batch = self._fast.encode_batch(texts[start : start + 1024], add_special_tokens=False)
            out += [len(e.ids) for e in batch]
        return out
