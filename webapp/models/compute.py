"""One long-lived thread runs the app's model work: loading, embedding, reranking, generating.

torch splits a CPU kernel over OpenMP threads, and libgomp gives each thread that ever ran a
parallel region a pool of its own, alive as long as that thread. Once a process holds more
pool threads than cores, libgomp lets a waiting thread spin only ~100 times before it sleeps
(`gomp_throttled_spin_count_var`), so every parallel region pays a futex wake-up. A decode
step runs ~300 of them: on 2 cores a token took 26 ms on a request thread beside the loading
thread's pool, against 12-13 ms with a single pool (and 17 ms on one core). Requests hand
their model work to this thread and wait for it.

An answer being generated runs the work queued meanwhile between two of its steps
(`serve_pending`, called by the generator on every step), so another user's question is
embedded after one decode step, not after the whole answer. Work that is not handed over
still computes, only slower while it lives; adapter training keeps a thread of its own, which
ends when the queue of trainings is empty.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_jobs: queue.SimpleQueue = queue.SimpleQueue()
_thread: threading.Thread | None = None
_start = threading.Lock()


def on_compute_thread() -> bool:
    return threading.current_thread() is _thread


def submit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Queue `fn(*args, **kwargs)` for the compute thread; its Future has the result."""
    global _thread
    with _start:
        if _thread is None or not _thread.is_alive():
            # A daemon, like the request threads it replaces: it waits on the queue when idle.
            _thread = threading.Thread(target=_loop, name="model-compute", daemon=True)
            _thread.start()
    future: Future[T] = Future()
    _jobs.put((future, fn, args, kwargs))
    return future


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on the compute thread (directly when already on it).

    The caller must not hold a lock that queued work takes: the thread may be running it."""
    if on_compute_thread():
        return fn(*args, **kwargs)
    return submit(fn, *args, **kwargs).result()


@functools.cache
def computing(cls: type, method: str) -> type:
    """A subclass of `cls` (a library's model wrapper) whose `method` runs on this thread."""

    def routed(self, *args, **kwargs):
        return run(getattr(super(subclass, self), method), *args, **kwargs)

    subclass = type(f"ComputeThread{cls.__name__}", (cls,), {method: routed})
    return subclass


def serve_pending() -> None:
    """On the compute thread, inside long work: run what was queued meanwhile."""
    if not on_compute_thread():
        return
    while True:
        try:
            job = _jobs.get_nowait()
        except queue.Empty:
            return
        _execute(job)


def _loop() -> None:
    while True:
        _execute(_jobs.get())


def _execute(job) -> None:
    import torch

    future, fn, args, kwargs = job
    if not future.set_running_or_notify_cancel():
        return
    try:
        # Work served inside an answer must not inherit its inference mode (an adapter's
        # weights loaded under it could not be trained or copied in place afterwards).
        with torch.inference_mode(False):
            result = fn(*args, **kwargs)
    except BaseException as exc:  # delivered to the waiting caller
        future.set_exception(exc)
    else:
        future.set_result(result)
