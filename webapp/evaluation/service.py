"""The evaluation use cases, as the Evaluate tab and `webapp eval` / `webapp qa build` call
them: a run through the chat service, saved with the owner's runs; and the questions
"Build from my documents" makes. They take the parts they use, built by the composition root.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webapp.adapters.datasets import QAItem
    from webapp.chat.service import ChatService
    from webapp.config import Settings
    from webapp.evaluation.runner import EvalConfig
    from webapp.evaluation.store import EvalStore
    from webapp.knowledge.base import KnowledgeBase
    from webapp.models.generator import Generator
    from webapp.models.remote import RemoteGenerator

Progress = Callable[[float, str], None]


class Evaluation:
    """Runs of a question set through the chat, each configuration as users would ask it."""

    def __init__(self, chat: ChatService, evals: EvalStore, settings: Settings) -> None:
        self.chat = chat
        self.evals = evals
        self.settings = settings  # top_k, read at each run

    def run(
        self,
        owner: str,
        items: list[QAItem],
        configs: list[EvalConfig],
        *,
        qaset: str = "",
        split: str = "all",
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> dict:
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


class QuestionBuilder:
    """Questions from the owner's documents ("Build from my documents"): extractive, or with
    WEBAPP_QUESTION_GENERATOR=model (read at each call), written by the generator. The
    generator is asked for only then, so extractive questions never load it."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        settings: Settings,
        generator: Callable[[], Generator | RemoteGenerator],
    ) -> None:
        self.knowledge = knowledge
        self.settings = settings
        self.generator = generator

    def build(
        self, owner: str, per_document: int = 10, progress: Progress | None = None
    ) -> list[QAItem]:
        from webapp.adapters import question_builder

        if self.settings.question_generator == "model":
            return question_builder.from_documents_with_model(
                self.knowledge, owner, self.generator(), per_document, progress
            )
        return question_builder.from_documents(self.knowledge, owner, per_document, progress)
