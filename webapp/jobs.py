"""Work in the background: a user submits a job, polls its status, may cancel it.

One mechanism for training and evaluation. Jobs belong to an owner (another owner's job id
reads as missing); Cancel is an event the work checks between two steps; the end of a job
is one of done, cancelled (the work raised errors.Cancelled) or failed (a WebappError's
message, or a plain sentence for anything unexpected: the traceback goes to the log). With
`queued=True` one worker thread runs the jobs in order and the rest wait in a visible queue
(training: one model copy in memory at a time); otherwise each job gets a thread of its own
(evaluations share the chat's generator one question at a time). Finished jobs are kept for
a while so their status can still be read, then forgotten.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from webapp.errors import Cancelled, WebappError

log = logging.getLogger(__name__)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class BackgroundJob:
    id: str
    owner: str
    cancel: threading.Event = field(default_factory=threading.Event, kw_only=True)
    done: threading.Event = field(default_factory=threading.Event, kw_only=True)

    @property
    def finished(self) -> bool:
        return self.done.is_set()

    def ended(self, state: str, message: str) -> None:
        """Record how the job ended: cancelled or failed, with the sentence users read."""
        raise NotImplementedError


J = TypeVar("J", bound=BackgroundJob)


class BackgroundJobs(Generic[J]):
    def __init__(
        self,
        name: str,
        *,
        missing: WebappError,
        failed: str,
        queued: bool,
        keep: int = 20,
    ):
        self.name = name  # the worker threads' name, and the log's
        self._missing = missing  # raised for a job id that is not the owner's
        self._failed = failed  # what users read when the work fails unexpectedly
        self._queued = queued
        self._keep = keep
        self._jobs: dict[str, J] = {}
        self._order: list[str] = []
        self._guard = threading.RLock()  # submit checks and adds under one hold
        self._queue: queue.Queue[tuple[J, Callable[[J], None]]] = queue.Queue()
        self._worker: threading.Thread | None = None

    def active(self) -> list[J]:
        """The jobs queued or running, oldest first (call under `guard` to act on it)."""
        with self._guard:
            return [j for j in (self._jobs[i] for i in self._order) if not j.finished]

    @property
    def guard(self) -> threading.RLock:
        return self._guard

    def start(self, job: J, work: Callable[[J], None]) -> J:
        """Run `work(job)` in the background (the caller has checked its limits)."""
        with self._guard:
            self._jobs[job.id] = job
            self._order.append(job.id)
            if not self._queued:
                threading.Thread(
                    target=self._run, args=(job, work), name=self.name, daemon=True
                ).start()
                return job
            self._queue.put((job, work))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._worker.start()
        return job

    def get(self, owner: str, job_id: str) -> J:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise self._missing
        return job

    def cancel(self, owner: str, job_id: str) -> J:
        job = self.get(owner, job_id)
        job.cancel.set()
        return job

    def forget_finished(self, owner: str) -> None:
        """Drop the owner's finished jobs now (their results can be large)."""
        with self._guard:
            for job_id in [i for i in self._order if self._jobs[i].finished]:
                if self._jobs[job_id].owner == owner:
                    self._order.remove(job_id)
                    del self._jobs[job_id]

    def cancel_owner(self, owner: str, wait_s: float = 30.0) -> None:
        """Stop every queued or running job of an owner (their data is being deleted)."""
        mine = [j for j in self.active() if j.owner == owner]
        for job in mine:
            job.cancel.set()
        for job in mine:
            job.done.wait(wait_s)

    def position(self, job: J) -> int:
        """0 while running, n when n jobs are ahead of it in the queue."""
        waiting = self.active()
        return waiting.index(job) if self._queued and job in waiting else 0

    def wait(self, job: J, timeout: float | None = None) -> J:
        job.done.wait(timeout)
        return job

    def _work(self) -> None:
        while True:
            try:
                job, work = self._queue.get(timeout=5)
            except queue.Empty:
                with self._guard:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            self._run(job, work)

    def _run(self, job: J, work: Callable[[J], None]) -> None:
        try:
            work(job)
        except Cancelled as exc:
            job.ended("cancelled", str(exc))
        except WebappError as exc:
            job.ended("failed", str(exc))
        except Exception:
            log.exception("%s %s failed", self.name, job.id)
            job.ended("failed", self._failed)
        finally:
            job.done.set()
            self._prune()

    def _prune(self) -> None:
        """Forget all but the newest finished jobs, so a long-running server does not grow."""
        with self._guard:
            finished = [i for i in self._order if self._jobs[i].finished]
            for job_id in finished[: -self._keep]:
                self._order.remove(job_id)
                del self._jobs[job_id]
