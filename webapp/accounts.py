"""Deleting everything of one owner ("Delete all my data", `webapp delete-data`, an idle
anonymous workspace): their documents and originals, adapters, evaluation runs, question
sets and chat feedback, after stopping their running trainings and evaluations. It spans every feature's
store, so it sits above them all; the composition root builds it from the parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from webapp.adapters.registry import AdapterRegistry
    from webapp.chat.feedback import FeedbackStore
    from webapp.evaluation.qasets import QASetStore
    from webapp.evaluation.store import EvalStore
    from webapp.knowledge.base import KnowledgeBase


class Jobs(Protocol):
    def cancel_owner(self, owner: str) -> None: ...


class Remembers(Protocol):
    def forget(self, owner: str) -> None: ...


class Accounts:
    def __init__(
        self,
        knowledge: KnowledgeBase,
        adapters: AdapterRegistry,
        evals: EvalStore,
        qasets: QASetStore,
        feedback: FeedbackStore,
        *,
        jobs: Callable[[], Iterable[Jobs]],
        memory: Callable[[], Iterable[Remembers]],
    ) -> None:
        """`jobs()`: the job queues running now; `memory()`: what is held in memory per
        owner (keyword indexes, the chat rate limit). Both asked for at each deletion, so
        it stops and forgets only what exists and builds nothing for it."""
        self.knowledge = knowledge
        self.adapters = adapters
        self.evals = evals
        self.qasets = qasets
        self.feedback = feedback
        self.jobs = jobs
        self.memory = memory

    def delete(self, owner: str) -> dict[str, int]:
        """Delete everything of one owner (running trainings and evaluations are stopped
        first). Returns how many of each were deleted."""
        for queue in self.jobs():
            queue.cancel_owner(owner)
        removed = {"documents": self.knowledge.delete_all(owner)}
        for held in self.memory():
            held.forget(owner)
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
        removed["feedback"] = self.feedback.delete_all(owner)
        return removed
