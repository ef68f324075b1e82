"""Background training: one run at a time per process, the others wait in a visible queue.

Each job trains on its own copy of the base model in a worker thread, so the chat keeps
answering for everyone. A job's status (state, step, epoch, losses, time left, queue
position) can be read at any moment; Cancel stops it between two steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webapp.adapters.config import TrainConfig
from webapp.adapters.datasets import TrainingSet
from webapp.adapters.registry import AdapterRegistry
from webapp.adapters.training import TrainStatus, train
from webapp.errors import AdapterError, TrainingBusy, TrainingCancelled
from webapp.jobs import BackgroundJob, BackgroundJobs, new_id

MAX_WAITING = 4


@dataclass
class Job(BackgroundJob):
    config: TrainConfig
    data: TrainingSet | None
    status: TrainStatus
    metadata: dict | None = None

    def ended(self, state: str, message: str) -> None:
        self.status.state, self.status.message = state, message


class TrainingJobs(BackgroundJobs[Job]):
    def __init__(self, registry: AdapterRegistry, base_path, base_name: str):
        super().__init__(
            "training",
            missing=AdapterError("That training run does not exist."),
            failed="Training failed unexpectedly; no adapter was saved.",
            queued=True,
        )
        self.registry = registry
        self._base_path = base_path  # callable: resolved lazily, the first job converts once
        self.base_name = base_name

    def submit(self, owner: str, config: TrainConfig, data: TrainingSet) -> Job:
        with self.guard:
            if self.registry.exists(owner, config.name):
                raise AdapterError(
                    f"An adapter named '{config.name}' already exists; choose another name or delete it."
                )
            active = self.active()
            if any(j.owner == owner and j.config.name == config.name for j in active):
                raise AdapterError(f"'{config.name}' is already being trained.")
            if len(active) >= MAX_WAITING + 1:  # one training plus MAX_WAITING in the queue
                raise TrainingBusy(
                    "Too many trainings are waiting; try again when one has finished."
                )
            status = TrainStatus(config.name, "queued", epochs=config.epochs)
            return self.start(Job(new_id(), owner, config, data, status), self._train)

    def _train(self, job: Job) -> None:
        try:
            if job.cancel.is_set():
                raise TrainingCancelled("Training was cancelled before it started.")
            job.status.state = "starting"
            job.metadata = train(
                job.config,
                job.data,  # type: ignore[arg-type]
                self._base_path(),
                self.base_name,
                Path(self.registry.folder(job.owner, job.config.name)),
                report=lambda s: None,
                cancel=job.cancel,
                status=job.status,
            )
        finally:
            job.data = None  # the rows are no longer needed; keep only the status
