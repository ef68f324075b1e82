"""Background training: one run at a time per process, the others wait in a visible queue.

Each job trains on its own copy of the base model in a worker thread, so the chat keeps
answering for everyone. A job's status (state, step, epoch, losses, time left, queue
position) can be read at any moment; Cancel stops it between two steps.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from webapp.adapters.config import TrainConfig
from webapp.adapters.datasets import TrainingSet
from webapp.adapters.registry import AdapterRegistry
from webapp.adapters.training import TrainStatus, train
from webapp.errors import AdapterError, TrainingBusy, TrainingCancelled, WebappError

log = logging.getLogger(__name__)
MAX_WAITING = 4


@dataclass
class Job:
    id: str
    owner: str
    config: TrainConfig
    data: TrainingSet | None
    status: TrainStatus
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    metadata: dict | None = None

    @property
    def finished(self) -> bool:
        return self.done.is_set()


class TrainingJobs:
    def __init__(self, registry: AdapterRegistry, base_path, base_name: str):
        self.registry = registry
        self._base_path = base_path  # callable: resolved lazily, the first job converts once
        self.base_name = base_name
        self._queue: queue.Queue[Job] = queue.Queue()
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._guard = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, owner: str, config: TrainConfig, data: TrainingSet) -> Job:
        with self._guard:
            if self.registry.exists(owner, config.name):
                raise AdapterError(
                    f"An adapter named '{config.name}' already exists; choose another name or delete it."
                )
            active = [j for j in self._jobs.values() if not j.finished]
            if any(j.owner == owner and j.config.name == config.name for j in active):
                raise AdapterError(f"'{config.name}' is already being trained.")
            if len(active) >= MAX_WAITING + 1:  # one training plus MAX_WAITING in the queue
                raise TrainingBusy(
                    "Too many trainings are waiting; try again when one has finished."
                )
            job = Job(
                uuid.uuid4().hex[:12],
                owner,
                config,
                data,
                TrainStatus(config.name, "queued", epochs=config.epochs),
            )
            self._jobs[job.id] = job
            self._order.append(job.id)
            self._queue.put(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="training", daemon=True)
                self._worker.start()
            return job

    def get(self, owner: str, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise AdapterError("That training run does not exist.")
        return job

    def cancel(self, owner: str, job_id: str) -> Job:
        job = self.get(owner, job_id)
        job.cancel.set()
        return job

    def cancel_owner(self, owner: str, wait_s: float = 30.0) -> None:
        """Stop every queued or running training of an owner (their data is being deleted)."""
        with self._guard:
            mine = [j for j in self._jobs.values() if j.owner == owner and not j.finished]
        for job in mine:
            job.cancel.set()
        for job in mine:
            job.done.wait(wait_s)

    def position(self, job: Job) -> int:
        """0 while training, n when n runs are ahead of it in the queue."""
        with self._guard:
            waiting = [j for j in (self._jobs[i] for i in self._order) if not j.finished]
        return waiting.index(job) if job in waiting else 0

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        job.done.wait(timeout)
        return job

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=5)
            except queue.Empty:
                with self._guard:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        status = job.status
        try:
            if job.cancel.is_set():
                raise TrainingCancelled("Training was cancelled before it started.")
            status.state = "starting"
            destination = self.registry.folder(job.owner, job.config.name)
            job.metadata = train(
                job.config,
                job.data,
                self._base_path(),
                self.base_name,
                Path(destination),
                report=lambda s: None,
                cancel=job.cancel,
                status=status,
            )
        except TrainingCancelled as exc:
            status.state, status.message = "cancelled", str(exc)
        except WebappError as exc:
            status.state, status.message = "failed", str(exc)
        except Exception:
            log.exception("training %s failed", job.config.name)
            status.state, status.message = (
                "failed",
                "Training failed unexpectedly; no adapter was saved.",
            )
        finally:
            job.data = None  # the rows are no longer needed; keep only the status
            job.done.set()
            self._prune()

    def _prune(self, keep: int = 20) -> None:
        """Forget all but the newest finished jobs, so a long-running server does not grow."""
        with self._guard:
            finished = [i for i in self._order if self._jobs[i].finished]
            for job_id in finished[:-keep]:
                self._order.remove(job_id)
                del self._jobs[job_id]
