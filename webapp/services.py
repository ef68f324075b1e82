"""The composition root: builds each part once (models, Chroma, knowledge base, retrievers,
chat, adapters, jobs, stores) and wires them. Only entry points use it (the CLI, the app, the
UI, the benchmarks); features take the parts they need, never this object.

Each part is built on first use (`webapp docs list` never loads the generator), once, even
when two first requests arrive together. Parts may be given ready-made
(`Services(settings, embedder=...)`); `scratch(folder)` gives stores of their own that share
the loaded models. The builders live with the layers that own them: `models.factory`,
`knowledge.store`, `retrieval.factory`; so do the use cases that span parts, built here
from them like any part: `evaluation` and `questions` (evaluation.service), `accounts`
(deleting an owner's data) and `health`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from webapp.config import Settings

if TYPE_CHECKING:  # the parts' types; each is imported when first built
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.postprocessor import SentenceTransformerRerank

    from webapp.accounts import Accounts
    from webapp.adapters.jobs import TrainingJobs
    from webapp.adapters.registry import AdapterInfo, AdapterRegistry
    from webapp.chat.feedback import FeedbackStore
    from webapp.chat.ratelimit import RateLimiter
    from webapp.chat.service import ChatService
    from webapp.evaluation.jobs import EvalJobs
    from webapp.evaluation.qasets import QASetStore
    from webapp.evaluation.service import Evaluation, QuestionBuilder
    from webapp.evaluation.store import EvalStore
    from webapp.health import Health
    from webapp.knowledge.base import KnowledgeBase
    from webapp.models.generator import Generator
    from webapp.models.remote import RemoteGenerator
    from webapp.retrieval.factory import Retrievers
    from webapp.retrieval.tuning import TunedEmbedders
    from webapp.users import UsersFile, Workspaces

log = logging.getLogger(__name__)


T = TypeVar("T")


class part(Generic[T]):
    """A part of Services built on first use, once (thread-safe); `built(services)` says
    whether it has been, without building it. Used as a decorator, like property."""

    def __init__(self, build: Callable[[Services], T]):
        self.build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, services: None, owner: type | None = None) -> part[T]: ...
    @overload
    def __get__(self, services: Services, owner: type | None = None) -> T: ...
    def __get__(self, services: Services | None, owner: type | None = None) -> T | part[T]:
        if services is None:
            return self
        with services._build_lock:
            if self.name not in services._parts:
                services._parts[self.name] = self.build(services)
            return services._parts[self.name]

    def built(self, services: Services) -> bool:
        return self.name in services._parts


class Services:
    def __init__(self, settings: Settings, models_from: Services | None = None, **parts: Any):
        """`models_from`: another Services whose loaded models these stores share (when
        they name the same models); `parts`: ready-made parts by name (embedder=…)."""
        unknown = [name for name in parts if not isinstance(getattr(Services, name, None), part)]
        if unknown:
            raise TypeError(f"not parts of Services: {', '.join(unknown)}")
        self.settings = settings
        self._models_from = models_from
        self._build_lock = threading.RLock()
        self._parts: dict[str, Any] = dict(parts)
        settings.storage_dir.mkdir(parents=True, exist_ok=True)

    def scratch(self, storage_dir: Path, **overrides: Any) -> Services:
        """Stores of their own under `storage_dir` (a benchmark's, a corpus's), with these
        settings but `overrides`, sharing the loaded models where they name the same ones."""
        values = {**self.settings.model_dump(), "storage_dir": Path(storage_dir), **overrides}
        return Services(Settings(**values), models_from=self)

    def _shared(self, *fields: str) -> Services | None:
        """The Services to share a model with: `models_from`, when it names the same one."""
        other = self._models_from
        if other is not None and all(
            getattr(other.settings, f) == getattr(self.settings, f) for f in fields
        ):
            return other
        return None

    # -- models -------------------------------------------------------------------------------
    @part
    def embedder(self) -> BaseEmbedding:
        from webapp.models import factory

        shared = self._shared("embed_base_url", "embed_model")
        return shared.embedder if shared else factory.embedder(self.settings)

    @part
    def generator(self) -> Generator | RemoteGenerator:
        from webapp.models import factory

        shared = self._shared("llm_base_url", "llm_model")
        return shared.generator if shared else factory.generator(self.settings)

    @part
    def reranker(self) -> SentenceTransformerRerank | None:
        """The optional cross-encoder (WEBAPP_RERANKER), loaded once; None when off."""
        if not self.settings.reranker:
            return None
        from webapp.models import factory
        from webapp.retrieval.hybrid import RERANK_CANDIDATES

        shared = self._shared("reranker")
        return shared.reranker if shared else factory.reranker(self.settings, RERANK_CANDIDATES)

    def base_model_path(self) -> str:
        from webapp.models import factory

        return factory.base_model_path(self.settings)

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
        from webapp.models.remote import RemoteGenerator

        generator = self.generator
        if not isinstance(generator, RemoteGenerator):  # a local model serves no others
            return []
        return [m for m in generator.served_models() if m != self.settings.llm_model]

    # -- documents and search -----------------------------------------------------------------
    @part
    def chroma(self) -> Any:
        from webapp.knowledge import store

        return store.open_client(self.settings)

    @part
    def knowledge(self) -> KnowledgeBase:
        from webapp.knowledge.base import KnowledgeBase
        from webapp.models.embedder import token_counter

        return KnowledgeBase(
            self.chroma,
            self.embedder,
            token_counter(self.embedder),
            self.settings.storage_dir,
            self.settings,
        )

    @part
    def retrievers(self) -> Retrievers:
        """Every owner's retriever, and their keyword indexes (retrieval.factory)."""
        from webapp.retrieval.factory import Retrievers

        return Retrievers(self.knowledge, self.embedder, self.settings, self.reranker)

    def retriever(
        self, owner: str, top_k: int, mode: str | None = None, scope: Any = None
    ) -> Any:  # a LlamaIndex BaseRetriever
        """The owner's retriever: WEBAPP_RETRIEVAL (hybrid by default), or `mode`; `scope`
        keeps it inside chosen documents or file kinds."""
        return self.retrievers(owner, top_k, mode, scope)

    # -- chat -----------------------------------------------------------------------------------
    @part
    def chat(self) -> ChatService:
        from webapp.chat.service import ChatService

        knowledge = self.knowledge  # first: a store that is down fails before a model loads
        return ChatService(
            self.generator,
            knowledge,
            self.retrievers,
            self.settings,
            self.adapters,
            reader=self.reader,
        )

    @part
    def reader(self) -> AdapterInfo | None:
        """The shipped reader adapter (WEBAPP_READER), or None (adapters.raft.shipped)."""
        from webapp.adapters import raft

        return raft.shipped(self.settings)

    @part
    def chat_limit(self) -> RateLimiter:
        from webapp.chat.ratelimit import RateLimiter

        return RateLimiter(self.settings.chat_per_minute)

    @part
    def feedback(self) -> FeedbackStore:
        """The chat's 👍/👎 and better answers, per owner (chat.feedback)."""
        from webapp.chat.feedback import FeedbackStore

        return FeedbackStore(self.settings.storage_dir / "feedback")

    # -- adapters and evaluation ----------------------------------------------------------------
    @part
    def adapters(self) -> AdapterRegistry:
        from webapp.adapters.registry import AdapterRegistry

        return AdapterRegistry(
            self.settings.storage_dir, self.settings.llm_model, on_delete=self._unload_adapter
        )

    def _unload_adapter(self, info: AdapterInfo) -> None:
        if Services.generator.built(self) or self._models_from is not None:
            self.generator.unload_adapter(info)

    @part
    def tuned_embedders(self) -> TunedEmbedders:
        """Embedders tuned to an owner's questions (`webapp train-retriever`)."""
        from webapp.retrieval.tuning import TunedEmbedders

        return TunedEmbedders(self.settings.storage_dir)

    @part
    def training(self) -> TrainingJobs:
        from webapp.adapters.jobs import TrainingJobs

        return TrainingJobs(self.adapters, self.base_model_path, self.settings.llm_model)

    @part
    def qasets(self) -> QASetStore:
        from webapp.evaluation.qasets import QASetStore

        return QASetStore(self.settings.storage_dir)

    @part
    def evals(self) -> EvalStore:
        from webapp.evaluation.store import EvalStore

        return EvalStore(self.settings.storage_dir)

    @part
    def eval_jobs(self) -> EvalJobs:
        from webapp.evaluation.jobs import EvalJobs

        return EvalJobs()

    @part
    def evaluation(self) -> Evaluation:
        """Evaluation runs through the chat, saved (evaluation.service)."""
        from webapp.evaluation.service import Evaluation

        return Evaluation(self.chat, self.evals, self.settings)

    @part
    def questions(self) -> QuestionBuilder:
        """Questions from the documents; the generator only for WEBAPP_QUESTION_GENERATOR=model."""
        from webapp.evaluation.service import QuestionBuilder

        return QuestionBuilder(self.knowledge, self.settings, lambda: self.generator)

    # -- owners ---------------------------------------------------------------------------------
    @part
    def users(self) -> UsersFile:
        """Password accounts (WEBAPP_USERS_FILE, default STORAGE_DIR/users.json, and
        WEBAPP_USERS)."""
        from webapp.users import UsersFile

        path = self.settings.users_file or self.settings.storage_dir / "users.json"
        return UsersFile(path, self.settings.users)

    @part
    def workspaces(self) -> Workspaces:
        """Anonymous mode's workspaces: idle ones are deleted with all their data."""
        from webapp.users import Workspaces

        return Workspaces(
            self.settings.storage_dir,
            self.settings.anonymous_idle_minutes,
            lambda owner: self.accounts.delete(owner),
            self.settings.secret_key,
        )

    @part
    def accounts(self) -> Accounts:
        """Deleting everything of one owner (webapp.accounts)."""
        from webapp.accounts import Accounts

        return Accounts(
            self.knowledge,
            self.adapters,
            self.evals,
            self.qasets,
            self.feedback,
            jobs=self._built(Services.training, Services.eval_jobs),
            memory=self._built(Services.retrievers, Services.chat_limit),
        )

    def _built(self, *parts: part[Any]) -> Callable[[], list[Any]]:
        """Those of `parts` built by the time it is called (it builds none)."""
        return lambda: [p.__get__(self) for p in parts if p.built(self)]

    # -- running ----------------------------------------------------------------------------------
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

    @part
    def health(self) -> Health:
        """The readiness report (webapp.health); it loads no model and opens Chroma only
        to check it."""
        from webapp.health import Health

        embedder, generator = self._loaded(Services.embedder), self._loaded(Services.generator)
        models = {"embedder": embedder, "generator": generator}
        return Health(self.settings, lambda: self.chroma, models)

    def _loaded(self, model: part[T]) -> Callable[[], T | None]:
        """The model once loaded (shared ones count: `models_from` has them), else None."""
        shared = self._models_from is not None
        return lambda: model.__get__(self) if shared or model.built(self) else None


def quiet_libraries() -> None:
    """Hide library progress bars and warnings users cannot act on (CLI and server output)."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("chromadb").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
