"""Files written so that a reader, or a restart after kill -9, sees the old version or the
new, never half of one: the one home of the app's atomic writes (the knowledge base's
markers and originals, users, workspaces, evaluation runs, question sets).

A write goes to a uniquely named temporary file beside the target, then `os.replace`s it
(atomic on POSIX within one folder); on any failure, a full disk included, the temporary
file is removed and the old version stays. Kept free of heavy imports."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(path: Path, data: str | bytes, *, mode: int = 0o644) -> None:
    """Write `data` (text as UTF-8) to `path` atomically; `mode` for a new file (0o600 for
    secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    body = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, value: Any, *, mode: int = 0o644, **dumps: Any) -> None:
    """`atomic_write` of `value` as JSON (UTF-8, non-ASCII kept as it is)."""
    atomic_write(path, json.dumps(value, ensure_ascii=False, **dumps), mode=mode)


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy `src` to `dest` atomically: a full disk leaves no partial copy behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(dest)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path, default: Any) -> Any:
    """The JSON in `path`, or `default` when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def write_or_remove(path: Path, records: list) -> None:
    """A JSON list that is removed rather than written when it is empty."""
    if records:
        atomic_write_json(path, records)
    else:
        path.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_disk_full(exc: BaseException | None) -> bool:
    """An OSError ENOSPC/EDQUOT anywhere in the chain, or SQLite's (Chroma's) "disk is full"."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if "disk is full" in text or "no space left on device" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False
