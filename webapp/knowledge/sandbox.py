"""Read every uploaded file in a separate process with time and memory limits.

Why this exists: the parsers (pypdf, BeautifulSoup, our Word reader, the CSV and JSON
readers) run on bytes a stranger chose. A crafted file can make a parser loop for hours,
allocate gigabytes or crash the interpreter; in the server process any of these would stall
or kill the app for every user. So the server never parses an upload itself. It sends the
file's path to a worker process that:

- is a fresh interpreter started with `subprocess` (exec, the same isolation as
  multiprocessing's "spawn"), never a fork of the server, which holds torch threads, Chroma
  handles and sockets; it imports only the parsers (no torch, chromadb or llama_index), so
  it starts in about 0.2 s and stays small;
- reads each file under RLIMIT_AS (the worker's current size plus `parse_memory_mb`) and
  RLIMIT_CPU (a backstop a little above the time limit, in case the server side is gone),
  with core dumps off;
- is killed when a file takes longer than `parse_timeout_s` of wall-clock time.

Workers are kept warm and reused, so a file pays only a round trip (milliseconds), not a
start. A worker that was killed, ran out of memory, crashed or grew is thrown away and a
fresh one is started in the background. Results come back as JSON (plain data: texts,
metadata, page count; never pickle, which could run code in the server) and are rebuilt into
Documents here. Every failure is an IngestError with a plain-words message.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from webapp import errors
from webapp.errors import (
    IngestError,
    ParseCrashed,
    ParseMemoryExceeded,
    ParseTimeout,
    ReaderUnavailable,
)
from webapp.knowledge import formats

log = logging.getLogger(__name__)

MB = 1024 * 1024
STARTUP_TIMEOUT_S = 60.0  # a worker's start (imports); not counted in a file's time limit
KEEP_IDLE = 2  # warm workers kept between files
MAX_JOBS = 200  # files one worker reads before it is replaced
MAX_GROWTH = 256 * MB  # a worker that stays this much larger after a file is replaced
# Imported once when a worker starts, so files do not pay for them (each format names its own).
WARM_MODULES = formats.WARM_MODULES
BOOT = (
    "import sys; sys.path[:0] = sys.argv[2:]; "
    "from webapp.knowledge.sandbox import _worker_main; _worker_main(sys.argv[1])"
)


def parse(
    path: Path, kind: str, *, timeout_s: float, memory_mb: int, max_chars: int | None = None
) -> formats.Parsed:
    """`formats.parse`, run in a worker process under the given limits."""
    return formats.to_parsed(
        extract(path, kind, timeout_s=timeout_s, memory_mb=memory_mb, max_chars=max_chars)
    )


def extract(
    path: Path, kind: str, *, timeout_s: float, memory_mb: int, max_chars: int | None = None
) -> formats.Extracted:
    """`formats.extract`, run in a worker process under the given limits. The worker stops
    a file as soon as its text passes `max_chars`, so no more than that comes back here."""
    if os.name != "posix":  # no rlimits, no fd passing: read in-process (development only)
        return formats.extract(path, kind, max_chars)
    job = {
        "path": os.path.abspath(path),
        "kind": kind,
        "memory_mb": int(memory_mb),
        "cpu_s": float(timeout_s),
        "max_chars": max_chars,
    }
    for attempt in range(2):
        worker = _POOL.take()
        reusable = False
        try:
            reply = worker.run(job, timeout_s, memory_mb)
            reusable = not reply.get("retire")
            break
        except _WorkerGone:  # died while idle: start another once
            if attempt:
                raise ReaderUnavailable(
                    "The file could not be read because the reader process stopped. "
                    "Please try again."
                ) from None
        finally:
            _POOL.give_back(worker, reusable)
    if "units" in reply:
        units = [(text, dict(meta)) for text, meta in reply["units"]]
        return formats.Extracted(reply["kind"], units, reply["pages"])
    if reply.get("error") == "memory":
        raise _memory_error(memory_mb)
    if reply.get("error") == "ingest":
        cls = getattr(errors, reply.get("type", ""), None)
        if not (isinstance(cls, type) and issubclass(cls, IngestError)):
            cls = errors.CorruptFile
        raise cls(reply["message"])
    log.warning("the reader failed on a %s file: %s", kind, reply.get("detail", "?"))
    raise ParseCrashed(
        "The file could not be read: the reader failed on it. The file may be damaged."
    )


def _timeout_error(timeout_s: float) -> ParseTimeout:
    return ParseTimeout(
        f"Reading the file took longer than {timeout_s:g} s, so it was stopped. "
        "The file may be damaged or built to overload the server."
    )


def _memory_error(memory_mb: int) -> ParseMemoryExceeded:
    return ParseMemoryExceeded(
        f"Reading the file needed more than {memory_mb} MB of memory, so it was stopped. "
        "The file may be damaged or built to overload the server."
    )


class _WorkerGone(Exception):
    """The worker was dead before it got the job."""


class _Worker:
    """One reader process and the two pipes to it."""

    def __init__(self) -> None:
        job_r, job_w = os.pipe()
        reply_r, reply_w = os.pipe()
        paths = [os.path.abspath(p) for p in sys.path if p]
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", BOOT, f"{job_r},{reply_w}", *paths],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(job_r, reply_w),
                start_new_session=True,  # a Ctrl-C meant for the server is not sent here
            )
        except OSError as exc:
            os.close(job_w)
            os.close(reply_r)
            raise ReaderUnavailable(
                "The file could not be read because the reader process could not start."
            ) from exc
        finally:
            os.close(job_r)
            os.close(reply_w)
        self.jobs = Connection(job_w, readable=False)
        self.replies = Connection(reply_r, writable=False)
        self.ready = False
        self.done = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, job: dict, timeout_s: float, memory_mb: int) -> dict:
        if not self.ready:
            self._wait_ready()
        try:
            self.jobs.send_bytes(json.dumps(job).encode())
        except OSError:
            raise _WorkerGone() from None
        self.done += 1
        if not self.replies.poll(timeout_s):
            self.kill()
            raise _timeout_error(timeout_s)
        try:
            return json.loads(self.replies.recv_bytes())
        except (EOFError, OSError, ValueError):
            pass
        code = self.kill()
        if code == -signal.SIGXCPU:  # the CPU backstop fired
            raise _timeout_error(timeout_s)
        if code == -signal.SIGKILL:  # not us: the kernel's out-of-memory killer
            raise _memory_error(memory_mb)
        log.warning("the reader process died (exit status %s)", code)
        raise ParseCrashed(
            "Reading the file crashed the reader, so it was stopped. "
            "The file may be damaged or built to overload the server."
        )

    def _wait_ready(self) -> None:
        try:
            if self.replies.poll(STARTUP_TIMEOUT_S):
                self.ready = json.loads(self.replies.recv_bytes()).get("ready") is True
        except (EOFError, OSError, ValueError):
            pass
        if not self.ready:
            code = self.kill()
            log.error("the reader process did not start (exit status %s)", code)
            raise ReaderUnavailable(
                "The file could not be read because the reader process did not start. "
                "Please try again."
            )

    def kill(self) -> int | None:
        """Stop the process (if still running) and return its exit status."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        for conn in (self.jobs, self.replies):
            conn.close()
        return code


class _Pool:
    """Warm workers, each used by one file at a time."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self) -> _Worker:
        with self._lock:
            if self._pid != os.getpid():  # a forked copy of the server: those are not ours
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def give_back(self, worker: _Worker, reusable: bool) -> None:
        if reusable and worker.done < MAX_JOBS and worker.alive():
            with self._lock:
                if len(self._idle) < KEEP_IDLE:
                    self._idle.append(worker)
                    return
        worker.kill()
        with self._lock:
            if self._idle:
                return
        try:  # start the replacement now: it imports while the server does other work
            spare = _Worker()
        except ReaderUnavailable:
            return
        with self._lock:
            self._idle.append(spare)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_POOL = _Pool()
atexit.register(_POOL.close)


# -- the worker side --------------------------------------------------------------------
def _worker_main(fds: str) -> None:
    """Entry point of a worker process: read jobs until the server closes the pipe."""
    import resource

    job_fd, reply_fd = (int(fd) for fd in fds.split(","))
    jobs = Connection(job_fd, writable=False)
    replies = Connection(reply_fd, readable=False)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for module in WARM_MODULES:
        with contextlib.suppress(ImportError):
            __import__(module)
    replies.send_bytes(b'{"ready": true}')
    while True:
        try:
            job = json.loads(jobs.recv_bytes())
        except EOFError:  # the server is gone or done with us
            return
        replies.send_bytes(json.dumps(_run(job), ensure_ascii=False).encode())


def _run(job: dict) -> dict:
    import resource

    start = _address_space()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_used = usage.ru_utime + usage.ru_stime
    _soft_limit(resource.RLIMIT_CPU, int(cpu_used + job["cpu_s"]) + 2)
    if start:
        _soft_limit(resource.RLIMIT_AS, start + job["memory_mb"] * MB)
    try:
        extracted = formats.extract(Path(job["path"]), job["kind"], job.get("max_chars"))
        reply = {"kind": extracted.kind, "units": extracted.units, "pages": extracted.pages}
    except Exception as exc:
        reply = _describe(exc)
    finally:
        _soft_limit(resource.RLIMIT_AS, resource.RLIM_INFINITY)
        _soft_limit(resource.RLIMIT_CPU, resource.RLIM_INFINITY)
    reply["retire"] = reply.get("error") == "memory" or _address_space() > start + MAX_GROWTH
    return reply


def _describe(exc: BaseException) -> dict:
    chain: BaseException | None = exc
    while chain is not None:  # a parser may wrap a MemoryError in its own error
        if isinstance(chain, MemoryError):
            return {"error": "memory"}
        chain = chain.__cause__ or chain.__context__
    if isinstance(exc, IngestError):
        return {"error": "ingest", "type": type(exc).__name__, "message": str(exc)}
    return {"error": "crash", "detail": f"{type(exc).__name__}: {exc}"[:500]}


def _soft_limit(which: int, value: int) -> None:
    import resource

    try:
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and (value == resource.RLIM_INFINITY or value > hard):
            value = hard
        resource.setrlimit(which, (value, hard))
    except (ValueError, OSError):  # not supported here (RLIMIT_AS on macOS)
        pass


def _address_space() -> int:
    """Bytes of virtual memory this process maps (what RLIMIT_AS counts); 0 if unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
