"""Builds the heavy objects once (models, Chroma client, knowledge base, chat) and wires them.

Each is built on first use, so `webapp docs list` never loads the generator. The UI, CLI and
tests receive a Services object; nothing else constructs models or stores.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from webapp.config import Settings

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings, models_from: Services | None = None):
        """`models_from`: another Services whose loaded models these stores share."""
        self.settings = settings
        self._models_from = models_from
        self._build_lock = threading.RLock()
        settings.storage_dir.mkdir(parents=True, exist_ok=True)

    def scratch(self, storage_dir: Path, **overrides) -> Services:
        """Stores of their own under `storage_dir` (a benchmark's, a corpus's), with these
        settings but `overrides`, sharing the loaded models where they name the same ones."""
        values = {**self.settings.model_dump(), "storage_dir": Path(storage_dir), **overrides}
        return Services(Settings(**values), models_from=self)

    def _once(self, name: str, build):
        # cached_property is not thread-safe; two first requests must not load a model twice.
        with self._build_lock:
            if name not in self.__dict__:
                self.__dict__[name] = build()
            return self.__dict__[name]

    @property
    def embedder(self):
        shared = self._models_from
        if shared is not None and _same(
            shared.settings, self.settings, "embed_base_url", "embed_model"
        ):
            return shared.embedder

        def build():
            if self.settings.embed_base_url:
                return self._remote_embedder()
            from webapp.models.embedder import load_embedder
            from webapp.models.quantize import fast_cpu
            from webapp.models.resolve import resolve_embedder

            fast = fast_cpu(self.settings.fast_cpu, self.settings.device)
            path = resolve_embedder(self.settings.embed_model)
            return load_embedder(path, self.settings.device, bf16=fast)

        return self._once("_embedder", build)

    def _remote_embedder(self):
        from pathlib import Path

        from transformers import AutoTokenizer

        from webapp.config import BUNDLED_EMBEDDER
        from webapp.models.remote_embedder import RemoteEmbedder, served_name
        from webapp.models.resolve import resolve_embedder

        named = Path(self.settings.embed_model).expanduser()
        counter = named if named.is_dir() else resolve_embedder(BUNDLED_EMBEDDER)
        return RemoteEmbedder(
            self.settings.embed_base_url,
            served_name(self.settings.embed_model),
            self.settings.embed_api_key,
            AutoTokenizer.from_pretrained(str(counter)),
        )

    @property
    def generator(self):
        shared = self._models_from
        if shared is not None and _same(
            shared.settings, self.settings, "llm_base_url", "llm_model"
        ):
            return shared.generator

        def build():
            if self.settings.llm_base_url:
                return self._remote_generator()
            from webapp.models import compute
            from webapp.models.generator import Generator
            from webapp.models.quantize import fast_cpu

            return compute.run(  # converting the bundled GGUF too (first run)
                lambda: Generator.load(
                    self.base_model_path(),
                    self.settings.device,
                    name=self.settings.llm_model,
                    fast=fast_cpu(self.settings.fast_cpu, self.settings.device),
                    draft_tokens=self.settings.draft_tokens,
                )
            )

        return self._once("_generator", build)

    def _remote_generator(self):
        from pathlib import Path

        from transformers import AutoTokenizer

        from webapp.config import BUNDLED_LLM
        from webapp.models.remote import RemoteGenerator
        from webapp.models.resolve import resolve_llm

        named = Path(self.settings.llm_model).expanduser()
        counter = named if named.is_dir() else resolve_llm(BUNDLED_LLM, self.settings.model_cache)
        return RemoteGenerator(
            self.settings.llm_base_url,
            self.settings.llm_model,
            self.settings.llm_api_key,
            AutoTokenizer.from_pretrained(str(counter)),
            self.settings.context_tokens,
        )

    def chat_models(self, owner: str) -> list[str]:
        """What the chat's model selector offers besides the base model: the owner's
        adapters, or with an inference server, the adapters that server offers (none while
        it is down, so the page still loads)."""
        if not self.settings.llm_base_url:
            return [a.name for a in self.adapters.list(owner)]
        from webapp.errors import StoreUnavailable

        try:
            return self.served_adapters()
        except StoreUnavailable:
            return []

    def served_adapters(self) -> list[str]:
        """The inference server's models other than the base: its adapters, shared by every
        user (vLLM's --lora-modules). Raises StoreUnavailable while the server is down."""
        return [m for m in self.generator.served_models() if m != self.settings.llm_model]

    @property
    def chroma(self):
        from webapp.knowledge import store

        return self._once("_chroma", lambda: store.open_client(self.settings))

    @property
    def knowledge(self):
        def build():
            from webapp.knowledge.base import KnowledgeBase
            from webapp.models.embedder import token_counter

            return KnowledgeBase(
                self.chroma,
                self.embedder,
                token_counter(self.embedder),
                self.settings.storage_dir,
                self.settings,
            )

        return self._once("_knowledge", build)

    def retriever(self, owner: str, top_k: int, mode: str | None = None, scope=None):
        """The owner's retriever: WEBAPP_RETRIEVAL (hybrid by default), or `mode`; `scope`
        keeps it inside chosen documents or file kinds."""
        from webapp.retrieval.hybrid import CANDIDATES, HybridRetriever
        from webapp.retrieval.retriever import EVERYTHING, KnowledgeRetriever

        mode, scope = mode or self.settings.retrieval, scope or EVERYTHING
        reranker, diversity = self.reranker, self.settings.diversity
        plain = mode == "dense" and reranker is None and diversity == 0
        store = self.knowledge.vector_store(owner)
        depth = top_k if plain else max(top_k, CANDIDATES)
        dense = KnowledgeRetriever(store, self.embedder, depth, scope)
        if plain:
            return dense
        collection = store.client  # the store's own collection: no second lookup
        return HybridRetriever(
            dense,
            self.keyword_index(owner),
            self.embedder,
            collection,
            top_k,
            mode,
            scope=scope,
            reranker=reranker,
            diversity=diversity,
            reads_chinese=self.settings.embedder_reads_chinese,
        )

    @property
    def reranker(self):
        """The optional cross-encoder (WEBAPP_RERANKER), loaded once; None when off."""
        if not self.settings.reranker:
            return None
        if (
            self._models_from is not None
            and self._models_from.settings.reranker == self.settings.reranker
        ):
            return self._models_from.reranker

        def build():
            from llama_index.core.postprocessor import SentenceTransformerRerank

            from webapp.models import compute
            from webapp.retrieval.hybrid import RERANK_CANDIDATES

            return compute.run(  # scoring on the compute thread too
                compute.computing(SentenceTransformerRerank, "_postprocess_nodes"),
                model=self.settings.reranker,
                top_n=RERANK_CANDIDATES,
                device=self.settings.device,
                trust_remote_code=False,  # a configured model must not run its own code
            )

        return self._once("_reranker", build)

    def keyword_index(self, owner: str):
        """The owner's BM25 index (kept in step with Chroma; see retrieval.hybrid)."""
        from webapp.retrieval.hybrid import KeywordIndex

        indexes = self._once("_keyword_indexes", dict)
        with self._build_lock:
            if owner not in indexes:
                knowledge = self.knowledge
                indexes[owner] = KeywordIndex(
                    knowledge.collection(owner),
                    lambda: knowledge.revision(owner),
                    knowledge.sole_writer,
                )
            return indexes[owner]

    @property
    def chat(self):
        def build():
            from webapp.chat.service import ChatService

            knowledge = self.knowledge  # first: a store that is down fails before a model loads
            return ChatService(
                self.generator,
                knowledge,
                self.retriever,
                self.settings,
                self.adapters,
                reader=self.reader,
            )

        return self._once("_chat", build)

    @property
    def reader(self):
        """The shipped reader adapter (WEBAPP_READER), or None (adapters.raft.shipped)."""

        def build():
            from webapp.adapters import raft

            return raft.shipped(self.settings)

        return self._once("_reader", build)

    def base_model_path(self) -> str:
        from webapp.models.resolve import resolve_llm

        return resolve_llm(self.settings.llm_model, self.settings.model_cache)

    @property
    def adapters(self):
        def build():
            from webapp.adapters.registry import AdapterRegistry

            return AdapterRegistry(
                self.settings.storage_dir, self.settings.llm_model, on_delete=self._unload_adapter
            )

        return self._once("_adapters", build)

    def _unload_adapter(self, info) -> None:
        if "_generator" in self.__dict__ or self._models_from is not None:
            self.generator.unload_adapter(info)

    @property
    def training(self):
        def build():
            from webapp.adapters.jobs import TrainingJobs

            return TrainingJobs(self.adapters, self.base_model_path, self.settings.llm_model)

        return self._once("_training", build)

    @property
    def qasets(self):
        from webapp.evaluation.qasets import QASetStore

        return self._once("_qasets", lambda: QASetStore(self.settings.storage_dir))

    @property
    def evals(self):
        from webapp.evaluation.runner import EvalStore

        return self._once("_evals", lambda: EvalStore(self.settings.storage_dir))

    @property
    def eval_jobs(self):
        from webapp.evaluation.jobs import EvalJobs

        return self._once("_eval_jobs", EvalJobs)

    def evaluate(self, owner, items, configs, *, qaset="", split="all", progress=None, cancel=None):
        """Run an evaluation through the chat service and save it; returns the run."""
        from webapp.evaluation import runner

        run = runner.run(
            self.chat,
            owner,
            items,
            configs,
            top_k=self.settings.top_k,
            qaset=qaset,
            split=split,
            progress=progress,
            cancel=cancel,
        )
        self.evals.save(owner, run)
        return run

    @property
    def users(self):
        """Password accounts (WEBAPP_USERS_FILE, default STORAGE_DIR/users.json, and
        WEBAPP_USERS)."""
        from webapp.users import UsersFile

        path = self.settings.users_file or self.settings.storage_dir / "users.json"
        return self._once("_users", lambda: UsersFile(path, self.settings.users))

    @property
    def workspaces(self):
        """Anonymous mode's workspaces: idle ones are deleted with all their data."""
        from webapp.users import Workspaces

        return self._once(
            "_workspaces",
            lambda: Workspaces(
                self.settings.storage_dir,
                self.settings.anonymous_idle_minutes,
                self.delete_owner,
                self.settings.secret_key,
            ),
        )

    @property
    def chat_limit(self):
        from webapp.chat.ratelimit import RateLimiter

        return self._once("_chat_limit", lambda: RateLimiter(self.settings.chat_per_minute))

    def delete_owner(self, owner: str) -> dict[str, int]:
        """Delete everything of one owner: documents and originals, adapters, question sets,
        evaluation runs (running trainings and evaluations are stopped first). Returns counts."""
        if "_training" in self.__dict__:
            self.training.cancel_owner(owner)
        if "_eval_jobs" in self.__dict__:
            self.eval_jobs.cancel_owner(owner)
        removed = {"documents": self.knowledge.delete_all(owner)}
        self.__dict__.get("_keyword_indexes", {}).pop(owner, None)
        adapters = self.adapters.list(owner)
        for info in adapters:
            self.adapters.delete(owner, info.name)
        removed["adapters"] = len(adapters)
        runs = self.evals.list(owner)
        for run in runs:
            self.evals.delete(owner, run["run_id"])
        removed["evaluations"] = len(runs)
        sets = self.qasets.list(owner)
        for name in sets:
            self.qasets.delete(owner, name)
        removed["question_sets"] = len(sets)
        if "_chat_limit" in self.__dict__:
            self.chat_limit.forget(owner)
        return removed

    def warm_up(self) -> None:
        """Load both models now, so the first question does not wait for them. A Chroma,
        model or embedding server that is down does not stop the start: requests say so
        until it is back."""
        from webapp.errors import StoreUnavailable

        self.embedder  # noqa: B018
        self.generator  # noqa: B018  (loads or converts the generator)
        try:
            self.chat  # noqa: B018  (opens the knowledge base)
        except StoreUnavailable:
            log.warning("the Chroma server is not reachable yet; requests will retry")

    def health(self) -> dict:
        """Readiness of each dependency: {"ok": bool, "checks": {name: {"ok", "detail"}}}."""
        from webapp.knowledge import store

        checks = {
            "documents": store.health(lambda: self.chroma, self.settings),
            "embedder": self._check_model("embedder"),
            "generator": self._check_model("generator"),
        }
        return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}

    def _check_model(self, name: str) -> dict:
        """The local model: ok once loaded; a remote one: does it answer right now?"""
        if f"_{name}" not in self.__dict__ and self._models_from is None:
            return {"ok": False, "detail": "not loaded yet"}
        check = getattr(getattr(self, name), "check", None)
        if check is None:
            return {"ok": True, "detail": "local model"}
        return check()


def quiet_libraries() -> None:
    """Hide library progress bars and warnings users cannot act on (CLI and server output)."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("chromadb").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _same(a, b, *fields: str) -> bool:
    """Whether two settings name the same model (a shared model is only shared then)."""
    return all(getattr(a, f) == getattr(b, f) for f in fields)
