"""Evaluations in the background: the UI submits one, polls its progress, may cancel it.

Each run asks the shared generator one question at a time, so the chat of every user keeps
answering between two evaluation questions. One run per user at a time, a few in all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from webapp.errors import Busy, WebappError
from webapp.jobs import BackgroundJob, BackgroundJobs, new_id

MAX_RUNNING = 3


@dataclass
class EvalJob(BackgroundJob):
    fraction: float = 0.0
    message: str = "Starting…"
    state: str = "running"  # running | done | cancelled | failed
    result: dict | None = None

    def ended(self, state: str, message: str) -> None:
        self.state, self.message = state, message


class EvalJobs(BackgroundJobs[EvalJob]):
    def __init__(self):
        super().__init__(
            "evaluation",
            missing=WebappError("That evaluation does not exist."),
            failed="The evaluation failed unexpectedly.",
            queued=False,
        )

    def submit(self, owner: str, work: Callable[[Callable, threading.Event], dict]) -> EvalJob:
        """`work(progress, cancel)` returns the finished run (already saved)."""
        with self.guard:
            running = self.active()
            if any(j.owner == owner for j in running):
                raise Busy("An evaluation of yours is already running; wait or cancel it.")
            if len(running) >= MAX_RUNNING:
                raise Busy("The server is busy with other evaluations; try again soon.")
            self.forget_finished(owner)

            def run(job: EvalJob) -> None:
                def progress(fraction: float, message: str) -> None:
                    job.fraction, job.message = fraction, message

                job.result = work(progress, job.cancel)
                job.state, job.fraction = "done", 1.0

            return self.start(EvalJob(new_id(), owner), run)
