"""The one settings object: every knob of the app, read from the environment (WEBAPP_*).

Built once at the edge (CLI, app entry) and passed in; nothing else reads os.environ.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_LLM = "bundled:smollm2-135m-instruct"
BUNDLED_GEMMA = "bundled:gemma-3-270m"  # a base model, multilingual; Gemma terms of use
BUNDLED_EMBEDDER = "bundled:all-minilm-l6-v2"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEBAPP_", env_file=".env", extra="ignore")

    storage_dir: Path = Field(Path("storage"), description="Where all runtime data lives.")
    models_dir: Path | None = Field(
        None, description="Cache of converted models (default: STORAGE_DIR/models)."
    )
    llm_model: str = Field(
        BUNDLED_LLM,
        description="Generator: the bundled SmolLM2-135M-Instruct, bundled:gemma-3-270m (a "
        "multilingual base model; Gemma terms of use), a Hugging Face id or a local path.",
    )
    embed_model: str = Field(
        BUNDLED_EMBEDDER,
        description="Embedder: the bundled all-MiniLM-L6-v2, a Hugging Face id or a local path; "
        "with WEBAPP_EMBED_BASE_URL, the name of the model that server embeds with.",
    )
    chroma_url: str = Field(
        "",
        description="A Chroma server (http://host:8000) holding every replica's documents; "
        "empty = the embedded store under STORAGE_DIR/chroma.",
    )
    chroma_token: str = Field(
        "", description="Token sent to the Chroma server (or the proxy in front of it), if any."
    )
    chroma_auth_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        "Authorization",
        description="How WEBAPP_CHROMA_TOKEN is sent, as the server's token auth expects: "
        "Authorization (as 'Bearer TOKEN') or X-Chroma-Token (the token alone).",
    )
    llm_base_url: str = Field(
        "",
        description="An OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, transformers "
        "serve) that generates instead of the local model; WEBAPP_LLM_MODEL names its model.",
    )
    llm_api_key: str = Field("", description="API key for WEBAPP_LLM_BASE_URL, if it needs one.")
    embed_languages: Literal["auto", "en", "all"] = Field(
        "auto",
        description="The languages the embedder reads: auto (English for the bundled "
        "all-MiniLM-L6-v2, all for any other model), en, or all. For a Chinese question an "
        "English-only embedder's list is left out of the hybrid fusion.",
    )
    embed_base_url: str = Field(
        "",
        description="An OpenAI-compatible embeddings server (TEI, vLLM, Infinity, Ollama) that "
        "embeds instead of the local model; WEBAPP_EMBED_MODEL names its model (the bundled "
        "default is asked for as sentence-transformers/all-MiniLM-L6-v2). Chunks are still "
        "sized locally, with that model's tokenizer when it is a local folder, otherwise "
        "all-MiniLM-L6-v2's as an estimate.",
    )
    embed_api_key: str = Field(
        "", description="API key for WEBAPP_EMBED_BASE_URL, if it needs one."
    )
    device: str = Field("cpu", description="torch device for both models (cpu, cuda, mps).")
    fast_cpu: Literal["auto", "on", "off"] = Field(
        "auto",
        description="On a CPU: the base model answers from a bf16/int8 copy (adapters keep "
        "fp32) and the embedder runs in bf16, about 2x faster. auto: on where the CPU has native "
        "bf16 (AVX-512 BF16, AMX); off: fp32 everywhere.",
    )
    host: str = Field(
        default_factory=lambda: os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        description="Interface the web app listens on.",
    )
    port: int = Field(7860, description="Port of the web app.")
    max_upload_mb: float = Field(50.0, gt=0, description="Largest accepted file, in MB.")
    chunk_size: int = Field(
        200, ge=32, description="Chunk size in embedder tokens (all-MiniLM-L6-v2 reads 256)."
    )
    chunk_overlap: int = Field(30, ge=0, description="Tokens shared by neighbouring chunks.")
    context_window: int = Field(
        0,
        ge=0,
        description="Small-to-big retrieval: about this many tokens (the embedder's, like "
        "chunk_size) of each source's document are handed to the model, centred on the chunk "
        "that matched and read from its neighbours; 0 = off, the chunk alone. Set it above "
        "chunk_size (e.g. chunks of 96, a window of 200); at or below it, only hits that are "
        "neighbours are joined.",
    )
    retrieval: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="Search: BM25 keywords fused with dense vectors, or one alone."
    )
    keyword_match: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A keyword hit counts as relevant when it holds this share of the "
        "question's words, whatever its dense score.",
    )
    reranker: str = Field(
        "",
        description="Cross-encoder that reorders the best fused passages (a Hugging Face id "
        "or a local path, e.g. cross-encoder/ms-marco-MiniLM-L-6-v2); empty = off.",
    )
    diversity: float = Field(
        0.0,
        ge=0,
        le=1,
        description="0 = off; above 0, sources are picked by maximal marginal relevance, "
        "trading relevance for variety (0.3 is a mild setting).",
    )
    reader: str = Field(
        "shipped",
        description="The reader adapter that answers fact questions when 'Use my documents' "
        "is on and the local model answers: 'shipped' (assets/reader, trained for the bundled "
        "model; `make reader` rebuilds it), a folder holding another, or 'off'.",
    )
    top_k: int = Field(4, ge=1, le=20, description="Sources retrieved per question.")
    min_score: float = Field(
        0.25, description="Cosine similarity below which a passage counts as not relevant."
    )
    score_margin: float = Field(
        0.2, ge=0, description="Sources scoring more than this below the best one are left out."
    )
    context_tokens: int = Field(
        2048, ge=256, description="Prompt + answer token budget given to the generator."
    )
    max_new_tokens: int = Field(256, ge=1, description="Default answer length limit.")
    temperature: float = Field(0.0, ge=0, le=2, description="Default sampling temperature.")
    draft_tokens: int = Field(
        3,
        ge=0,
        le=10,
        description="Prompt-lookup decoding for the local model: after each token, up to this "
        "many next tokens are guessed from text already in the prompt (answers quote their "
        "sources) and the model checks them all in one step, so answers stay its own. "
        "0 = off.",
    )
    condense_with_llm: bool = Field(
        False, description="Rewrite follow-up questions with the generator (for stronger models)."
    )
    require_grounding: bool = Field(
        False,
        description="Reply 'I could not find this in your documents' instead of an answer the "
        "cited passages do not support.",
    )
    question_generator: Literal["extractive", "model"] = Field(
        "extractive",
        description="How 'Build from my documents' makes questions: extractive spans, or "
        "written by the configured generator (for stronger models).",
    )
    local_user: str = Field("local", description="Owner of all data in local mode.")
    auth: Literal["local", "password", "hf", "anonymous"] = Field(
        "local",
        description="Who is asking: one local user; users with passwords (WEBAPP_USERS_FILE); "
        "Hugging Face sign-in on a Space; or a private temporary workspace per browser.",
    )
    users_file: Path | None = Field(
        None, description="Password mode: users and hashed passwords (`webapp users add NAME`)."
    )
    users: str = Field(
        "",
        description="Password mode: more accounts as NAME:HASH entries, comma-separated, from "
        "`webapp users hash NAME` (for a Space's secrets, where no file can be written).",
    )
    anonymous_idle_minutes: float = Field(
        60.0, gt=0, description="Anonymous mode: a workspace idle this long is deleted."
    )
    secret_key: str = Field(
        "",
        description="Anonymous mode: the key that signs workspace cookies (set the same one on "
        "every replica); empty = a random key kept in STORAGE_DIR/.workspace_secret.",
    )
    max_documents: int = Field(500, ge=1, description="Documents each user may keep.")
    max_text_mb: float = Field(
        20.0,
        gt=0,
        description="Most text one uploaded file may hold, in MB of characters (about 10,000 "
        "pages); the reader stops a file as soon as it passes this.",
    )
    max_file_chunks: int = Field(
        25_000, ge=1, description="Most chunks one uploaded file may be split into."
    )
    max_chunks: int = Field(
        100_000, ge=1, description="Chunks each user's documents may have together."
    )
    max_total_mb: float = Field(500.0, gt=0, description="Total size of each user's documents.")
    queue_max: int = Field(
        64,
        ge=1,
        description="Requests that may wait for the model at once; beyond it people are told "
        "the app is busy and to try again.",
    )
    chat_per_minute: int = Field(
        30, ge=1, description="Questions each user may ask per minute (web app and API)."
    )
    parse_timeout_s: float = Field(
        60.0, gt=0, description="Longest time reading one uploaded file may take."
    )
    parse_memory_mb: int = Field(
        1024, ge=64, description="Most memory reading one uploaded file may use."
    )

    @property
    def embedder_reads_chinese(self) -> bool:
        if self.embed_languages == "auto":
            return self.embed_model != BUNDLED_EMBEDDER
        return self.embed_languages == "all"

    @property
    def public(self) -> bool:
        """Serving people other than the machine's owner: errors never show internals."""
        return self.auth != "local"

    @property
    def model_cache(self) -> Path:
        return self.models_dir or self.storage_dir / "models"

    def uses_hub(self) -> bool:
        """True when a model setting names a Hugging Face id rather than a bundle or a path."""
        specs = [self.reranker] if self.reranker else []
        if not self.embed_base_url:  # a served model's name is the server's business
            specs.append(self.embed_model)
        if not self.llm_base_url:
            specs.append(self.llm_model)
        return any(_is_hub_id(spec) for spec in specs)


def _is_hub_id(spec: str) -> bool:
    return not spec.startswith("bundled:") and not Path(spec).expanduser().exists()


def apply_process_environment(settings: Settings) -> None:
    """Offline and telemetry defaults; must run before Hugging Face libraries are imported."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not settings.uses_hub():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
