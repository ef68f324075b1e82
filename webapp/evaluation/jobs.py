"""Evaluations in the background: the UI submits one, polls its progress, may cancel it.

Each run asks the shared generator one question at a time, so the chat of every user keeps
answering between two evaluation questions. One run per user at a time, a few in all.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from webapp.errors import TrainingBusy, TrainingCancelled, WebappError

log = logging.getLogger(__name__)
MAX_RUNNING = 3


@dataclass
class EvalJob:
    id: str
    owner: str
    fraction: float = 0.0
    message: str = "Starting…"
    state: str = "running"  # running | done | cancelled | failed
    result: dict | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def finished(self) -> bool:
        return self.done.is_set()


class EvalJobs:
    def __init__(self):
        self._jobs: dict[str, EvalJob] = {}
        self._guard = threading.Lock()

    def submit(self, owner: str, work: Callable[[Callable, threading.Event], dict]) -> EvalJob:
        """`work(progress, cancel)` returns the finished run (already saved)."""
        with self._guard:
            running = [j for j in self._jobs.values() if not j.finished]
            if any(j.owner == owner for j in running):
                raise TrainingBusy("An evaluation of yours is already running; wait or cancel it.")
            if len(running) >= MAX_RUNNING:
                raise TrainingBusy("The server is busy with other evaluations; try again soon.")
            for old in [j for j in self._jobs.values() if j.finished and j.owner == owner]:
                del self._jobs[old.id]
            job = EvalJob(uuid.uuid4().hex[:12], owner)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), name="eval", daemon=True).start()
        return job

    def get(self, owner: str, job_id: str) -> EvalJob:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise WebappError("That evaluation does not exist.")
        return job

    def cancel(self, owner: str, job_id: str) -> EvalJob:
        job = self.get(owner, job_id)
        job.cancel.set()
        return job

    def cancel_owner(self, owner: str, wait_s: float = 30.0) -> None:
        """Stop an owner's running evaluation (their data is being deleted)."""
        with self._guard:
            mine = [j for j in self._jobs.values() if j.owner == owner and not j.finished]
        for job in mine:
            job.cancel.set()
        for job in mine:
            job.done.wait(wait_s)

    def _run(self, job: EvalJob, work) -> None:
        def progress(fraction: float, message: str) -> None:
            job.fraction, job.message = fraction, message

        try:
            job.result = work(progress, job.cancel)
            job.state, job.fraction = "done", 1.0
        except TrainingCancelled as exc:
            job.state, job.message = "cancelled", str(exc)
        except WebappError as exc:
            job.state, job.message = "failed", str(exc)
        except Exception:
            log.exception("evaluation failed")
            job.state, job.message = "failed", "The evaluation failed unexpectedly."
        finally:
            job.done.set()
