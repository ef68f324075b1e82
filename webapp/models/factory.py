"""The models the settings name, built: the embedder, the generator and the optional
reranker, local (the bundled models or any Hugging Face folder) or on an OpenAI-compatible
server. Each loads once, on the compute thread where it computes (see `compute`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from webapp.config import BUNDLED_EMBEDDER, BUNDLED_LLM, Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.postprocessor import SentenceTransformerRerank

    from webapp.models.generator import Generator
    from webapp.models.remote import RemoteGenerator


def base_model_path(settings: Settings) -> str:
    """The local folder of the generator's base model (a bundled GGUF converted once)."""
    from webapp.models.resolve import resolve_llm

    return resolve_llm(settings.llm_model, settings.model_cache)


def embedder(settings: Settings) -> BaseEmbedding:
    """WEBAPP_EMBED_MODEL, or an embedding server's at WEBAPP_EMBED_BASE_URL."""
    from webapp.models.resolve import resolve_embedder

    if settings.embed_base_url:
        from transformers import AutoTokenizer

        from webapp.models.remote_embedder import RemoteEmbedder, served_name

        named = Path(settings.embed_model).expanduser()
        counter = named if named.is_dir() else resolve_embedder(BUNDLED_EMBEDDER)
        return RemoteEmbedder(
            settings.embed_base_url,
            served_name(settings.embed_model),
            settings.embed_api_key,
            AutoTokenizer.from_pretrained(str(counter)),
        )
    from webapp.models.embedder import load_embedder
    from webapp.models.quantize import fast_cpu

    fast = fast_cpu(settings.fast_cpu, settings.device)
    return load_embedder(resolve_embedder(settings.embed_model), settings.device, bf16=fast)


def generator(settings: Settings) -> Generator | RemoteGenerator:
    """WEBAPP_LLM_MODEL, or an inference server's at WEBAPP_LLM_BASE_URL."""
    if settings.llm_base_url:
        from transformers import AutoTokenizer

        from webapp.models.remote import RemoteGenerator
        from webapp.models.resolve import resolve_llm

        named = Path(settings.llm_model).expanduser()
        counter = named if named.is_dir() else resolve_llm(BUNDLED_LLM, settings.model_cache)
        return RemoteGenerator(
            settings.llm_base_url,
            settings.llm_model,
            settings.llm_api_key,
            AutoTokenizer.from_pretrained(str(counter)),
            settings.context_tokens,
        )
    from webapp.models import compute
    from webapp.models.generator import Generator
    from webapp.models.quantize import fast_cpu

    return compute.run(  # converting the bundled GGUF too (first run)
        lambda: Generator.load(
            base_model_path(settings),
            settings.device,
            name=settings.llm_model,
            fast=fast_cpu(settings.fast_cpu, settings.device),
            draft_tokens=settings.draft_tokens,
        )
    )


def reranker(settings: Settings, top_n: int) -> SentenceTransformerRerank:
    """The cross-encoder WEBAPP_RERANKER names (scoring on the compute thread too)."""
    from llama_index.core.postprocessor import SentenceTransformerRerank

    from webapp.models import compute

    return compute.run(
        compute.computing(SentenceTransformerRerank, "_postprocess_nodes"),
        model=settings.reranker,
        top_n=top_n,
        device=settings.device,
        trust_remote_code=False,  # a configured model must not run its own code
    )
