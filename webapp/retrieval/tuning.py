"""A retriever tuned to your documents: the embedder trained on (question, passage, hard
negative) triples (retrieval.pairs) with sentence-transformers' own trainer and
MultipleNegativesRankingLoss (each question against its passage, its hard negative and every
other passage of the batch), on the CPU: fp32 weights, under bf16 autocast where the CPU has
native bf16 (WEBAPP_FAST_CPU, as the app embeds).

The result is a sentence-transformers folder (safetensors) plus metadata.json: base model,
data recipe and the triples' sha256, hyperparameters, pairs/s, time, and any figures measured
on it. It is written to a temporary folder and renamed into place last, metadata.json being
written just before the rename, so a folder without it (or a temporary one) is never used.
`TunedEmbedders` keeps them per owner: storage/retrievers/<owner key>/<name>/.

    webapp train-retriever ../shared/data/scifact --split train --name scifact
    webapp eval-retrieval ../shared/data/scifact --mode all --embedder scifact
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from webapp import storage_lock
from webapp.errors import Cancelled, DatasetError, InvalidOption, ModelUnavailable
from webapp.files import atomic_write_json, read_json
from webapp.owners import OwnerFolders
from webapp.retrieval.pairs import Triple, fingerprint

log = logging.getLogger(__name__)

METADATA = "metadata.json"  # written last: a folder without it is not a tuned embedder
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")  # the rule for adapter names
Progress = Callable[[float, str], None]


class TuneConfig(BaseModel):
    """How the embedder is trained; every field is recorded in metadata.json."""

    epochs: int = Field(1, ge=1, le=20, description="Passes over the training triples.")
    batch_size: int = Field(
        32, ge=2, le=256, description="Triples per step: each question's in-batch negatives."
    )
    learning_rate: float = Field(2e-5, gt=0, le=1e-2, description="AdamW step size.")
    warmup_ratio: float = Field(0.1, ge=0, le=0.5, description="Share of steps warming up.")
    seed: int = Field(0, description="Random seed (same triples + seed = same embedder).")
    bf16: bool = Field(
        False,
        description="Train under bf16 autocast (on a CPU with native bf16 about twice as "
        "fast; the weights are kept and saved in fp32).",
    )


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidOption(
            "Retriever names use 1-48 letters, digits, '-' or '_', starting with a letter or digit."
        )
    return name


class TunedEmbedders:
    """Tuned embedders per owner: storage/retrievers/<owner key>/<name>/, complete when
    metadata.json is there."""

    def __init__(self, storage_dir: Path):
        self.folders = OwnerFolders(Path(storage_dir) / "retrievers")
        if storage_lock.held(storage_dir):  # the only writer: leftovers are nobody's
            self._remove_leftovers()

    def folder(self, owner: str, name: str) -> Path:
        return self.folders(owner) / check_name(name)

    def exists(self, owner: str, name: str) -> bool:
        return (self.folder(owner, name) / METADATA).is_file()

    def list(self, owner: str) -> list[dict]:
        base = self.folders(owner)
        found = sorted(base.glob(f"*/{METADATA}")) if base.is_dir() else []
        return [read_json(p, {}) | {"name": p.parent.name} for p in found]

    def resolve(self, owner: str, name_or_path: str) -> Path:
        """The folder of the owner's tuned embedder `name_or_path`, or that folder itself
        when it is a path to one (a name is looked up first)."""
        if NAME_PATTERN.match(name_or_path) and self.exists(owner, name_or_path):
            return self.folder(owner, name_or_path)
        path = Path(name_or_path).expanduser()
        if (path / METADATA).is_file() or (path / "modules.json").is_file():
            return path.resolve()
        raise InvalidOption(
            f"No tuned retriever '{name_or_path}'. Train one with: webapp train-retriever "
            f"BEIR_DIR --name {name_or_path if NAME_PATTERN.match(name_or_path) else 'NAME'}"
        )

    def _remove_leftovers(self) -> None:
        for tmp in self.folders.root.glob("*/.*.tmp"):  # a training cut short (kill -9)
            log.warning("removing an unfinished tuned embedder %s", tmp.name)
            shutil.rmtree(tmp, ignore_errors=True)


def tune_embedder(
    rows: list[Triple],
    base_path: str,
    out_dir: Path,
    config: TuneConfig | None = None,
    recipe: dict[str, Any] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Train the embedder at `base_path` on `rows`, saved to `out_dir` (which must not
    exist yet); returns its metadata. `recipe`: where the rows came from, for metadata.json."""
    config = config or TuneConfig()
    if len(rows) < 2:
        raise DatasetError("At least two training pairs are needed (in-batch negatives).")
    if out_dir.exists():
        raise InvalidOption(f"{out_dir.name} already exists; choose another name.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        model, seconds, loss = _train(rows, base_path, tmp, config, progress, cancel)
        model.save(str(tmp), safe_serialization=True)
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)
        metadata = _metadata(rows, base_path, config, recipe or {}, seconds, loss)
        save_metadata(tmp, metadata)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when renamed
    return metadata


def save_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    """metadata.json, written atomically (also to add figures measured later)."""
    atomic_write_json(folder / METADATA, metadata, indent=2)


def _train(
    rows: list[Triple],
    base_path: str,
    tmp: Path,
    config: TuneConfig,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> tuple[Any, float, float]:
    """(the trained SentenceTransformer, seconds of training, final loss)."""
    try:
        from datasets import Dataset
        from datasets.table import InMemoryTable
    except ImportError:
        raise ModelUnavailable(
            "Tuning the retriever needs the datasets package: pip install datasets==5.2.0"
        ) from None
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    from transformers import PrinterCallback

    model = SentenceTransformer(base_path, device="cpu")
    columns = {
        "anchor": [r.query for r in rows],
        "positive": [r.positive for r in rows],
        "negative": [r.negative for r in rows],
    }
    # Our own fingerprint: datasets' (a dill hash of the Arrow table) fails on pyarrow's
    # MonthDayNano type here, and the triples' sha256 names the data just as well.
    data = Dataset(InMemoryTable.from_pydict(columns), fingerprint=fingerprint(rows)[:16])
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp / "checkpoints"),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # below 1: a share of the steps (transformers 5)
        seed=config.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # a duplicate would be a false negative
        fp16=False,
        bf16=config.bf16,
        use_cpu=True,
        save_strategy="no",
        logging_steps=10,
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=data,
        loss=MultipleNegativesRankingLoss(model),
        callbacks=[_callback(progress, cancel)],
    )
    trainer.remove_callback(PrinterCallback)  # our progress instead of a dict per step
    t0 = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - t0
    if cancel is not None and cancel.is_set():
        raise Cancelled("Training was cancelled; no retriever was saved.")
    return model, seconds, round(float(result.training_loss), 4)


def _callback(progress: Progress | None, cancel: threading.Event | None) -> Any:
    """Progress after each step; a set `cancel` stops the training at the next one."""
    from transformers import TrainerCallback

    class Steps(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if progress and state.max_steps:
                progress(state.global_step / state.max_steps, f"step {state.global_step}")
            if cancel is not None and cancel.is_set():
                control.should_training_stop = True
            return control

    return Steps()


def _metadata(
    rows: list[Triple],
    base_path: str,
    config: TuneConfig,
    recipe: dict[str, Any],
    seconds: float,
    loss: float,
) -> dict[str, Any]:
    return {
        "kind": "tuned-embedder",
        "base_model": str(base_path),
        "data": {**recipe, "pairs": len(rows), "sha256": fingerprint(rows)},
        "hyperparameters": config.model_dump()
        | {"loss": "MultipleNegativesRankingLoss", "hard_negatives": "BM25, 1 per pair"},
        "train_s": round(seconds, 1),
        "pairs_per_s": round(len(rows) * config.epochs / seconds, 2) if seconds else None,
        "final_train_loss": loss,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "measured": {},
    }
