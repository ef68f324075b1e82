"""One writer process per storage folder.

A process that changes the storage folder (`webapp serve`, and the CLI's write commands)
first takes an exclusive, non-blocking `flock` on `<storage>/.lock` and keeps it for its
whole life. The kernel drops the lock when the process ends, however it ends (`kill -9`
included), so a stale lock never blocks a restart; the pid and purpose written into the
file only make the refusal message more helpful.

Holding the lock also tells the stores of this process that they may tidy what an earlier
process left half done (KnowledgeBase.reconcile, adapter and evaluation temp files): no
other process can be writing there at the same time.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from webapp.errors import StorageBusy

try:
    import fcntl
except ImportError:  # Windows: no flock; one writer is then the operator's business
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"

_held: dict[Path, StorageLock] = {}
_guard = threading.Lock()


class StorageLock:
    def __init__(self, root: Path, fd: int | None):
        self.root = root
        self._fd = fd

    def release(self) -> None:
        with _guard:
            if _held.get(self.root) is self:
                del _held[self.root]
            if self._fd is not None:
                os.close(self._fd)  # closing the descriptor releases the flock
                self._fd = None

    def __enter__(self) -> StorageLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _key(storage_dir: Path) -> Path:
    return Path(storage_dir).expanduser().resolve()


def hold(storage_dir: Path, purpose: str = "server") -> StorageLock:
    """Take the storage folder's writer lock for this process (idempotent within it).

    Raises StorageBusy when another process holds it. `purpose` ("server" or a command
    name) is recorded so that a refused process can say who holds the folder.
    """
    root = _key(storage_dir)
    with _guard:
        if root in _held:
            return _held[root]
        root.mkdir(parents=True, exist_ok=True)
        fd = None
        if fcntl is not None:
            # O_CLOEXEC: a program this process starts never inherits (and so never
            # prolongs) the lock.
            fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_holder(fd)
                os.close(fd)
                raise StorageBusy(_busy_message(storage_dir, holder)) from None
            try:
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps({"pid": os.getpid(), "purpose": purpose}).encode())
            except OSError:
                pass  # a full disk must not stop the lock itself from working
        lock = _held[root] = StorageLock(root, fd)
        return lock


def held(storage_dir: Path) -> bool:
    """True when this process holds the writer lock of `storage_dir`."""
    return _key(storage_dir) in _held


def _read_holder(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096) or b"{}")
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def _busy_message(storage_dir: Path, holder: dict) -> str:
    if holder.get("purpose", "server") == "server":
        who = "Another DocChat server is"
    else:
        who = f"Another DocChat command ('webapp {holder['purpose']}') is"
    return (
        f"{who} already using the storage folder {storage_dir}. "
        "Stop it first, or set WEBAPP_STORAGE_DIR to another folder."
    )
