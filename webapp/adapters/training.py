"""One PEFT training run: a plain PyTorch loop over a private copy of the base model.

The serving model is never touched, so the chat keeps answering while this runs. The adapter
is written to a temporary folder and renamed into place last, with metadata.json; a cancelled
or failed run leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from webapp.adapters.config import METADATA, PREFERENCE, TrainConfig
from webapp.adapters.datasets import TrainingSet, tokenize
from webapp.errors import DatasetError, TrainingCancelled

MAX_GRAD_NORM = 1.0


@dataclass
class TrainStatus:
    """What a progress bar and a loss plot need, after every optimizer step."""

    name: str
    state: str = "starting"  # starting | training | saving | done | cancelled | failed
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    val_loss: list[tuple[int, float]] = field(default_factory=list)
    elapsed_s: float = 0.0
    eta_s: float | None = None
    tokens_per_s: float = 0.0
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def train(
    config: TrainConfig,
    data: TrainingSet,
    base_path: str,
    base_name: str,
    destination: Path,
    report: Callable[[TrainStatus], None] = lambda s: None,
    cancel: threading.Event | None = None,
    status: TrainStatus | None = None,
    checkpoints: dict[int, Path] | None = None,
) -> dict:
    """Train and save an adapter at `destination`; returns its metadata.

    `status` (optional) is updated in place after every step, for readers in other threads.
    `checkpoints` {rows trained: folder}: the adapter is also saved there once that many
    rows have been trained on (a learning curve from one run). Methods kto and dpo train
    from preferences, with TRL (webapp.adapters.preference).
    """
    if config.method in PREFERENCE:
        from webapp.adapters import preference

        return preference.train(
            config, data, base_path, base_name, destination, report, cancel, status
        )
    cancel = cancel or threading.Event()
    started = datetime.now(UTC)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    tokenizer, base = _model_copy(base_path)
    model = _peft_model(base, config)
    val, train_rows = _split(_rows(data, tokenizer, config), config, rng)
    status = _started(config, len(train_rows), status)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    checkpoint = _checkpointer(model, checkpoints, base_name, config.method)
    tokens = _loop(model, config, train_rows, val, pad, rng, status, report, cancel, checkpoint)
    status.state = "saving"
    report(status)
    metadata = _metadata(config, data, base_name, started, status, tokens)
    save_atomically(model, metadata, destination)
    status.state = "done"
    report(status)
    return metadata


def _model_copy(base_path: str):
    """The tokenizer and a private fp32 copy of the base model (the serving one is never
    touched)."""
    from transformers import AutoModelForCausalLM

    from webapp.models.generator import load_tokenizer

    tokenizer = load_tokenizer(base_path)
    return tokenizer, AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)


def _peft_model(base, config: TrainConfig):
    from peft import get_peft_model

    return get_peft_model(base, config.peft_config(base.config.num_hidden_layers))


def _rows(data: TrainingSet, tokenizer, config: TrainConfig) -> list:
    """The tokenized rows that have an answer within max_length."""
    rows = [tokenize(e, tokenizer, config.max_length) for e in data.examples]
    rows = [r for r in rows if any(label != -100 for label in r[1])]
    if not rows:  # every answer was cut off by max_length: training would learn nothing
        raise DatasetError(
            f"No row has an answer within {config.max_length} tokens; "
            "raise the maximum length or shorten the questions."
        )
    return rows


def _split(rows: list, config: TrainConfig, rng: random.Random) -> tuple[list, list]:
    """(validation rows, training rows), shuffled."""
    rng.shuffle(rows)
    n_val = int(len(rows) * config.validation_fraction)
    return rows[:n_val], rows[n_val:]


def _started(config: TrainConfig, n_rows: int, status: TrainStatus | None) -> TrainStatus:
    steps_per_epoch = math.ceil(n_rows / config.batch_size)
    fresh = TrainStatus(
        config.name, "training", total_steps=steps_per_epoch * config.epochs, epochs=config.epochs
    )
    if status is None:
        return fresh
    # the caller's object (a job's status) is the one other threads read: update it
    status.__dict__.update(fresh.__dict__)
    return status


def _checkpointer(
    model, checkpoints: dict[int, Path] | None, base_name: str, method: str
) -> Callable[[int], None]:
    """Called with the rows trained so far: saves each checkpoint that many rows reach."""
    pending = sorted((checkpoints or {}).items())

    def reached(seen: int) -> None:
        while pending and seen >= pending[0][0]:
            rows_so_far, folder = pending.pop(0)
            meta = {"name": folder.name, "base_model": base_name, "method": method}
            save_atomically(model, {**meta, "rows_trained": rows_so_far}, folder)

    return reached


def _loop(
    model,
    config: TrainConfig,
    train_rows: list,
    val: list,
    pad: int,
    rng: random.Random,
    status: TrainStatus,
    report: Callable[[TrainStatus], None],
    cancel: threading.Event,
    checkpoint: Callable[[int], None],
) -> int:
    """Every epoch's optimizer steps, then its validation loss; returns the tokens trained on.
    Cancelling is checked before each step."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr)
    # Linear decay to zero with clipped gradients (the transformers Trainer's defaults): at a
    # constant rate, once the loss nears zero a single step could throw it back up (seen: the
    # last of 32 steps jumping from 0.02 to 6.5), and that last step is the adapter we save.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda done: max(0.0, 1.0 - done / status.total_steps)
    )
    tokens, seen, clock = 0, 0, time.perf_counter()
    model.train()
    batches = length_grouped(train_rows, config.batch_size)
    for epoch in range(1, config.epochs + 1):
        status.epoch = epoch
        rng.shuffle(batches)
        for rows_in_batch in batches:
            if cancel.is_set():
                raise TrainingCancelled("Training was cancelled; no adapter was saved.")
            batch = collate(rows_in_batch, pad)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                loss = answer_loss(model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += int(batch["attention_mask"].sum())
            status.step += 1
            status.train_loss.append((status.step, round(loss.item(), 4)))
            _timing(status, clock, tokens)
            report(status)
            seen += len(rows_in_batch)
            checkpoint(seen)
        if val:
            status.val_loss.append(
                (status.step, round(evaluate(model, val, pad, config.batch_size), 4))
            )
            report(status)
    return tokens


def _metadata(
    config: TrainConfig,
    data: TrainingSet,
    base_name: str,
    started: datetime,
    status: TrainStatus,
    tokens: int,
) -> dict:
    """metadata.json: what was trained, on what, how long, and its loss curves."""
    return {
        "name": config.name,
        "base_model": base_name,
        "method": config.method,
        "hyperparameters": config.hyperparameters(),
        "dataset": data.describe(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "final_train_loss": status.train_loss[-1][1] if status.train_loss else None,
        "final_val_loss": status.val_loss[-1][1] if status.val_loss else None,
        "train_tokens": tokens,
        "tokens_per_s": round(status.tokens_per_s, 1),
        "train_loss_curve": status.train_loss,
        "val_loss_curve": status.val_loss,
    }


def answer_loss(model, batch: dict) -> torch.Tensor:
    """The causal-LM loss over the labelled tokens, with logits computed only from the first
    labelled position on: a reader row's prompt is ~600 tokens and its answer ~10, and the
    vocabulary projection of every prompt position (49k x 576 per token for SmolLM2) was a
    fifth of the step for nothing. Same value as `model(**batch).loss`."""
    labels = batch["labels"]
    labelled = (labels != -100).any(dim=0).nonzero()
    first = int(labelled[0]) if len(labelled) else labels.shape[1] - 1
    keep = labels.shape[1] - max(first - 1, 0)  # the position before a label predicts it
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    ).logits
    targets = labels[:, labels.shape[1] - keep + 1 :]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
    )


def length_grouped(rows: list, batch_size: int) -> list[list]:
    """Batches of rows of similar length, so little compute is spent on padding."""
    ordered = sorted(rows, key=lambda r: len(r[0]))
    return [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]


def collate(rows: list[tuple[list[int], list[int]]], pad: int) -> dict:
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, labs) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, : len(labs)] = torch.tensor(labs)
        mask[i, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


@torch.no_grad()
def evaluate(model, rows, pad: int, batch_size: int) -> float:
    model.eval()
    losses = [
        float(model(**collate(rows[i : i + batch_size], pad)).loss)
        for i in range(0, len(rows), batch_size)
    ]
    model.train()
    return sum(losses) / len(losses)


def _timing(status: TrainStatus, clock: float, tokens: int) -> None:
    status.elapsed_s = round(time.perf_counter() - clock, 2)
    status.tokens_per_s = tokens / status.elapsed_s if status.elapsed_s else 0.0
    per_step = status.elapsed_s / status.step
    status.eta_s = round(per_step * (status.total_steps - status.step), 1)


def save_atomically(model, metadata: dict, destination: Path) -> None:
    """PEFT files (safetensors) + metadata.json, in place only once complete."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.parent / f".{destination.name}.{uuid.uuid4().hex}.tmp"
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        (tmp / METADATA).write_text(json.dumps(metadata, indent=2))  # written last: complete
        if destination.exists():
            shutil.rmtree(destination)
        tmp.rename(destination)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
