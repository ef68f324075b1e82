"""The one background-job mechanism of training and evaluation: order, cancel, owners."""

import threading
from dataclasses import dataclass

import pytest

from webapp.errors import Cancelled, DatasetError, WebappError
from webapp.jobs import BackgroundJob, BackgroundJobs, new_id


@dataclass
class Job(BackgroundJob):
    state: str = "running"
    message: str = ""

    def ended(self, state: str, message: str) -> None:
        self.state, self.message = state, message


def jobs(queued: bool) -> BackgroundJobs:
    return BackgroundJobs(
        "test", missing=WebappError("No such job."), failed="It failed.", queued=queued
    )


def test_a_queue_runs_one_job_at_a_time_in_order_and_shows_positions():
    queue, started, release = jobs(queued=True), [], threading.Event()

    def work(job: Job) -> None:
        started.append(job.id)
        release.wait(10)
        job.state = "done"

    first, second, third = (queue.start(Job(new_id(), "ann"), work) for _ in range(3))
    while not started:
        threading.Event().wait(0.01)
    assert started == [first.id]
    assert [queue.position(j) for j in (first, second, third)] == [0, 1, 2]
    release.set()
    for job in (first, second, third):
        queue.wait(job, 10)
    assert started == [first.id, second.id, third.id]
    assert all(j.state == "done" and j.finished for j in (first, second, third))


def test_cancel_failure_and_owners():
    parallel = jobs(queued=False)

    def until_cancelled(job: Job) -> None:
        job.cancel.wait(10)
        raise Cancelled("Stopped; nothing was saved.")

    def broken(job: Job) -> None:
        raise KeyError("a bug")

    def refused(job: Job) -> None:
        raise DatasetError("The file has no rows.")

    long = parallel.start(Job(new_id(), "ann"), until_cancelled)
    with pytest.raises(WebappError, match="No such job"):
        parallel.cancel("bob", long.id)  # another owner's job reads as missing
    assert not long.finished
    parallel.cancel_owner("ann", wait_s=10)
    assert (long.state, long.message) == ("cancelled", "Stopped; nothing was saved.")
    bug = parallel.wait(parallel.start(Job(new_id(), "ann"), broken), 10)
    assert (bug.state, bug.message) == ("failed", "It failed.")  # no traceback for users
    plain = parallel.wait(parallel.start(Job(new_id(), "ann"), refused), 10)
    assert (plain.state, plain.message) == ("failed", "The file has no rows.")
    parallel.forget_finished("ann")
    assert parallel.active() == []
    with pytest.raises(WebappError):
        parallel.get("ann", plain.id)
