"""Question sets: the user's questions with gold answers, loaded, validated, split and saved.

A row (JSONL, JSON array or CSV): `question`, `answer`, and optionally `source` (the file the
answer is in), `page`, `paraphrase` (the same question reworded), `answerable` (false for a
question the documents do not answer: the right reply is to say so) and `split` (train/test).

Saved sets live in storage/qasets/<owner key>/<name>.jsonl, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from webapp.adapters.config import NAME_PATTERN
from webapp.adapters.datasets import (  # QAItem: a question row, also a reader's
    Example,
    QAItem,
    TrainingSet,
    convert_rows,
    csv_rows,
    jsonl_rows,
    to_messages,
)
from webapp.errors import DatasetError, IngestError, InvalidOption
from webapp.files import atomic_write
from webapp.knowledge.formats import read_text
from webapp.owners import OwnerFolders

MAX_ITEMS = 5_000
MAX_BYTES = 10 * 1024 * 1024
COLUMNS = ["question", "answer", "source", "page", "paraphrase", "answerable", "split"]


@dataclass
class QASet:
    name: str
    items: list[QAItem]

    def only(self, split: str | None) -> list[QAItem]:
        """The items of one split ("train"/"test"), or all of them for None/"all"."""
        if split in (None, "", "all"):
            return list(self.items)
        chosen = [i for i in self.items if i.split == split]
        if not chosen:
            raise DatasetError(
                f"The question set has no {split} split; split it by document first."
            )
        return chosen

    def counts(self) -> dict[str, int]:
        return {
            "questions": len(self.items),
            "train": sum(i.split == "train" for i in self.items),
            "test": sum(i.split == "test" for i in self.items),
            "documents": len({i.source for i in self.items if i.source}),
        }


def from_rows(rows: list[tuple[int, object]], name: str) -> QASet:
    items = convert_rows(rows, QAItem.from_row)
    if not items:
        raise DatasetError("The question set has no rows.")
    if len(items) > MAX_ITEMS:
        raise DatasetError(f"The set has {len(items)} questions; the limit is {MAX_ITEMS}.")
    return QASet(name, items)


def load_file(path: Path, name: str | None = None) -> QASet:
    name = name or path.name
    if not path.is_file():
        raise DatasetError(f"There is no file {name}.")
    size = path.stat().st_size
    if size == 0:
        raise DatasetError("The question file is empty.")
    if size > MAX_BYTES:
        raise DatasetError(f"The question file is {size / 1e6:.1f} MB; the limit is 10 MB.")
    suffix = Path(name).suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv"):
        raise DatasetError("A question set must be a .jsonl, .json or .csv file.")
    try:
        text = read_text(path)
    except IngestError as exc:
        raise DatasetError(f"The question file is not readable text: {exc}") from exc
    rows = csv_rows(text, MAX_ITEMS) if suffix == ".csv" else jsonl_rows(text, MAX_ITEMS)
    return from_rows(rows, Path(name).stem)


def split_by_document(items: list[QAItem], test_share: float = 0.5, seed: int = 0) -> list[QAItem]:
    """Assign whole documents to train or test, so no test document is seen in training.

    Questions without a source are grouped by their own text. At least one group goes to
    each side when there are two or more.
    """
    if not 0 < test_share < 1:
        raise InvalidOption("The test share must be between 0 and 1.")
    groups = sorted({_group(i) for i in items})
    random.Random(seed).shuffle(groups)
    n_test = min(max(round(len(groups) * test_share), 1), max(len(groups) - 1, 1))
    test = set(groups[:n_test])
    return [
        QAItem(**{**asdict(i), "split": "test" if _group(i) in test else "train"}) for i in items
    ]


def _group(item: QAItem) -> str:
    return f"source:{item.source}" if item.source else f"question:{item.question}"


def training_set(items: list[QAItem], name: str) -> TrainingSet:
    """Question → answer chat rows for an adapter (answerable questions only)."""
    rows = [i for i in items if i.answerable and i.answer]
    if not rows:
        raise DatasetError("There are no answerable questions to train on.")
    examples = [
        Example(messages=to_messages({"question": i.question, "answer": i.answer})) for i in rows
    ]
    body = "\n".join(json.dumps(i.as_row(), sort_keys=True) for i in rows).encode()
    return TrainingSet(name, examples, hashlib.sha256(body).hexdigest(), len(body), "supervised")


class QASetStore:
    """Saved question sets of each owner."""

    def __init__(self, storage_dir: Path):
        self.root = Path(storage_dir) / "qasets"
        self._folder = OwnerFolders(self.root)

    def _path(self, owner: str, name: str) -> Path:
        if not NAME_PATTERN.match(name or ""):
            raise InvalidOption(
                "A question set name uses letters, digits, - and _ (at most 48), "
                "starting with a letter or digit."
            )
        return self._folder(owner) / f"{name}.jsonl"

    def list(self, owner: str) -> list[str]:
        folder = self._folder(owner)
        return sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []

    def save(self, owner: str, qaset: QASet) -> Path:
        path = self._path(owner, qaset.name)
        body = "".join(json.dumps(i.as_row(), ensure_ascii=False) + "\n" for i in qaset.items)
        atomic_write(path, body)
        return path

    def load(self, owner: str, name: str) -> QASet:
        path = self._path(owner, name)
        if not path.is_file():
            raise DatasetError(f"There is no saved question set named '{name}'.")
        return load_file(path, path.name)

    def delete(self, owner: str, name: str) -> None:
        path = self._path(owner, name)
        if not path.is_file():
            raise DatasetError(f"There is no saved question set named '{name}'.")
        path.unlink()


def safe_set_name(text: str) -> str:
    """A valid set name made from a file name or free text."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:48]
    return name or "questions"
