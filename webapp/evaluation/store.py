"""Saved evaluation runs, as JSON under storage/evals/<owner key>/<run id>.json, and the
one-line name the run pickers show for each."""

from __future__ import annotations

import json
import re
from pathlib import Path

from webapp.errors import DatasetError
from webapp.files import atomic_write_json
from webapp.owners import OwnerFolders

RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")


class EvalStore:
    """Saved runs, one JSON file each, written whole (temp file, then rename): a run killed
    midway was never saved, and `list` reads only complete `*.json` files."""

    def __init__(self, storage_dir: Path):
        from webapp import storage_lock

        self.root = Path(storage_dir) / "evals"
        self._folder = OwnerFolders(self.root)
        if storage_lock.held(storage_dir):  # the only writer: temp files are leftovers
            for tmp in self.root.glob("*/.*.tmp"):
                tmp.unlink(missing_ok=True)

    def _path(self, owner: str, run_id: str) -> Path:
        if not RUN_ID.match(run_id or ""):
            raise DatasetError("That evaluation run does not exist.")
        return self._folder(owner) / f"{run_id}.json"

    def save(self, owner: str, run: dict) -> Path:
        path = self._path(owner, run["run_id"])
        atomic_write_json(path, run)
        return path

    def load(self, owner: str, run_id: str) -> dict:
        path = self._path(owner, run_id)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError("That evaluation run does not exist.") from exc

    def list(self, owner: str) -> list[dict]:
        """Newest first: run id, date, question set, configurations."""
        folder = self._folder(owner)
        runs = []
        for path in sorted(folder.glob("*.json"), reverse=True) if folder.is_dir() else []:
            try:
                run = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a damaged file never hides the other runs
            runs.append(
                {
                    "run_id": run["run_id"],
                    "created": run.get("created", ""),
                    "qaset": run.get("qaset", ""),
                    "split": run.get("split", "all"),
                    "questions": run.get("questions", 0),
                    "configs": [c["label"] for c in run.get("configs", [])],
                }
            )
        return runs

    def delete(self, owner: str, run_id: str) -> None:
        path = self._path(owner, run_id)
        if not path.is_file():
            raise DatasetError("That evaluation run does not exist.")
        path.unlink()


def describe(run: dict) -> str:
    """A one-line name for a saved run, as the run pickers show it."""
    when = run.get("created", "")[:16].replace("T", " ")
    what = run.get("qaset") or "questions"
    split = f" ({run['split']} split)" if run.get("split") not in (None, "all") else ""
    return f"{when} · {what}{split} · {', '.join(run.get('configs', []))}"
