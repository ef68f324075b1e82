"""Feedback on the chat's answers: 👍/👎 and an optional better answer, kept per owner
with the question, the sources and the answer, and exported as TRL training rows.

One JSONL file per owner, storage/feedback/<owner key>/feedback.jsonl (never shared
between owners; "Delete all my data" removes it). A new rating is appended and fsynced, so
a crash loses at most the line being written; changing a rating rewrites the file
atomically (webapp.files). A line that cannot be read (a torn last line, a hand edit) is
skipped with a warning and the others are kept: the next rewrite drops it.

Exports (`export(owner, kind)`), in TRL's conversational shapes:

- "kto": every rated answer, {"prompt", "completion", "label"} (👍 True, 👎 False);
- "dpo": each 👎 answer that has a better answer, {"prompt", "chosen", "rejected"} with
  chosen = the better answer, rejected = the answer;
- "raw": the records as stored.

The prompt is the chat's (webapp.chat.prompts): with the sources the answer was written
from, numbered as the chat numbered them, or the question alone for an answer without
them. A simplification, documented: the earlier turns of the conversation and a base
model's worked examples are not stored, so they are not in the prompt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from webapp.chat import prompts
from webapp.errors import InvalidOption
from webapp.files import atomic_write
from webapp.owners import OwnerFolders

log = logging.getLogger(__name__)

Rating = Literal["up", "down"]
Kind = Literal["kto", "dpo", "raw"]
KINDS = ("kto", "dpo", "raw")
FILE = "feedback.jsonl"
MAX_TEXT = 20_000  # characters kept of a question, an answer or a better answer
MAX_SOURCE_TEXT = 4_000  # of each source's passage


@dataclass
class Feedback:
    """One rated answer, as stored."""

    question: str
    answer: str
    rating: Rating
    sources: list[dict] = field(default_factory=list)  # [{"file", "page", "text"}]
    model: str = ""
    adapter: str | None = None
    better: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.rating not in ("up", "down"):
            raise InvalidOption("A rating is 'up' or 'down'.")
        self.question = str(self.question)[:MAX_TEXT]
        self.answer = str(self.answer)[:MAX_TEXT]
        better = str(self.better).strip()[:MAX_TEXT] if self.better else ""
        self.better = better or None
        self.sources = [source_record(s) for s in self.sources or []]

    @classmethod
    def from_dict(cls, data: dict) -> Feedback:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def source_record(source) -> dict:
    """A source (a retrieval Source or a dict) as the store keeps it: file, page, text."""
    get = source.get if isinstance(source, dict) else lambda k: getattr(source, k, None)
    return {
        "file": str(get("file") or ""),
        "page": get("page"),
        "text": str(get("text") or "")[:MAX_SOURCE_TEXT],
    }


Records = list[Feedback]
Rows = list[dict]  # training rows (the store's method `list` hides the builtin in its body)


class FeedbackStore:
    """Every owner's feedback under `root` (storage/feedback)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._folder = OwnerFolders(self.root)
        self._lock = threading.Lock()  # one writer at a time in this process

    def path(self, owner: str) -> Path:
        return self._folder(owner) / FILE

    def add(self, owner: str, feedback: Feedback) -> Feedback:
        """Append one record (fsynced: it survives a crash once this returns)."""
        path = self.path(owner)
        line = json.dumps(asdict(feedback), ensure_ascii=False) + "\n"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a+b") as f:
                if not ends_a_line(f):
                    line = "\n" + line  # after a torn last line: start a line of our own
                f.write(line.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        return feedback

    def list(self, owner: str) -> list[Feedback]:
        """The owner's records, oldest first; unreadable lines skipped with a warning."""
        path = self.path(owner)
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(Feedback.from_dict(json.loads(line)))
            except (ValueError, TypeError, InvalidOption):
                log.warning("skipped unreadable line %d of the feedback of one owner", number)
        return records

    def get(self, owner: str, feedback_id: str) -> Feedback | None:
        return next((f for f in self.list(owner) if f.id == feedback_id), None)

    def update(self, owner: str, feedback_id: str, **changes) -> Feedback | None:
        """Change one record (its rating, its better answer); None if there is none."""
        with self._lock:
            records = self.list(owner)
            found = next((f for f in records if f.id == feedback_id), None)
            if found is None:
                return None
            changed = Feedback.from_dict({**asdict(found), **changes, "id": found.id})
            self._rewrite(owner, [changed if f.id == feedback_id else f for f in records])
            return changed

    def remove(self, owner: str, feedback_id: str) -> bool:
        """Forget one record (a rating taken back)."""
        with self._lock:
            records = self.list(owner)
            kept = [f for f in records if f.id != feedback_id]
            if len(kept) != len(records):
                self._rewrite(owner, kept)
            return len(kept) != len(records)

    def delete_all(self, owner: str) -> int:
        """Delete every record of the owner; returns how many there were."""
        with self._lock:
            count = len(self.list(owner))
            self.path(owner).unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not there, or holds something else
                self._folder(owner).rmdir()
            return count

    def _rewrite(self, owner: str, records: Records) -> None:
        body = "".join(json.dumps(asdict(f), ensure_ascii=False) + "\n" for f in records)
        atomic_write(self.path(owner), body)

    def export(self, owner: str, kind: str = "kto") -> Rows:
        """The owner's feedback as training rows of `kind` (see the module's docstring)."""
        if kind not in KINDS:
            raise InvalidOption(f"The export kind is one of {', '.join(KINDS)}.")
        return export_rows(self.list(owner), kind)


def ends_a_line(f) -> bool:
    """Whether the file opened for appending is empty or ends with a newline."""
    if f.tell() == 0:
        return True
    f.seek(-1, os.SEEK_END)
    return f.read(1) == b"\n"


def export_rows(records: list[Feedback], kind: str) -> list[dict]:
    if kind == "raw":
        return [asdict(f) for f in records]
    if kind == "kto":
        return [
            {
                "prompt": prompt_messages(f),
                "completion": [assistant(f.answer)],
                "label": f.rating == "up",
            }
            for f in records
        ]
    return [
        {
            "prompt": prompt_messages(f),
            "chosen": [assistant(f.better)],
            "rejected": [assistant(f.answer)],
        }
        for f in records
        if f.rating == "down" and f.better
    ]


def assistant(text: str | None) -> dict:
    return {"role": "assistant", "content": text or ""}


def prompt_messages(feedback: Feedback) -> list[dict]:
    """The chat's prompt for the question: the numbered sources the answer used and the
    one-sentence request, or, without sources, the question alone."""
    question = feedback.question.strip()
    if not feedback.sources:
        return [
            {"role": "system", "content": prompts.PLAIN_SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ]
    blocks = "\n".join(
        f"[{n}] {' '.join(s['text'].split())}" for n, s in enumerate(feedback.sources, start=1)
    )
    request = prompts.in_language(prompts.ANSWER_REQUEST, question)
    body = f"Sources:\n{blocks}\n\nQuestion: {question}\n{request}"
    return [
        {"role": "system", "content": prompts.SYSTEM_PROMPT},
        {"role": "user", "content": body},
    ]
