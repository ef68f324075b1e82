"""Preference training with TRL: a LoRA on the base model from answers rated 👍/👎 (KTO,
`KTOTrainer`) or from pairs of a better and a worse answer to the same prompt (DPO,
`DPOTrainer`), e.g. the chat's feedback (webapp.chat.feedback) exported as rows.

`training.train` hands a TrainConfig of method kto or dpo here, so the CLI, the background
jobs (progress, loss plot, cancel) and the adapter registry treat it as any other run. The
adapter is a plain LoRA on a private copy of the base model, saved atomically with the same
metadata as the others; its metadata says `"method": "lora"` (what loads it) and
`"objective": "kto"|"dpo"` (how it was trained). TRL's reference model is the base model
itself with the adapter switched off, so no second copy is held.

Run: `webapp feedback export --kind dpo --out pairs.jsonl` then
`webapp train --method dpo --data pairs.jsonl --name better`.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from transformers import TrainerCallback

from webapp.adapters import training
from webapp.adapters.config import TrainConfig
from webapp.adapters.datasets import TrainingSet
from webapp.adapters.training import TrainStatus
from webapp.errors import DatasetError, TrainingCancelled


def train(
    config: TrainConfig,
    data: TrainingSet,
    base_path: str,
    base_name: str,
    destination: Path,
    report: Callable[[TrainStatus], None] = lambda s: None,
    cancel: threading.Event | None = None,
    status: TrainStatus | None = None,
) -> dict:
    """Train a KTO or DPO LoRA and save it at `destination`; returns its metadata."""
    cancel = cancel or threading.Event()
    started = datetime.now(UTC)
    rows = preference_rows(data, config.method)
    tokenizer, base = training._model_copy(base_path)
    batch = batch_size(config, len(rows))
    status = training._started(config.model_copy(update={"batch_size": batch}), len(rows), status)
    progress = Progress(status, report, cancel)
    with tempfile.TemporaryDirectory(prefix="webapp-trl-") as scratch:
        trainer = _trainer(config, rows, tokenizer, base, batch, scratch, progress)
        trainer.train()
    tokens = config.epochs * sum(_tokens(tokenizer, row) for row in rows)
    status.tokens_per_s = tokens / status.elapsed_s if status.elapsed_s else 0.0
    status.state = "saving"
    report(status)
    metadata = training._metadata(config, data, base_name, started, status, tokens)
    metadata.update(method="lora", objective=config.method)
    training.save_atomically(trainer.model, metadata, destination)
    status.state = "done"
    report(status)
    return metadata


def preference_rows(data: TrainingSet, method: str) -> list[dict]:
    rows = [e.preference for e in data.examples if e.preference is not None]
    if len(rows) != len(data.examples) or data.kind != method:
        raise DatasetError(
            f"{method.upper()} trains on {method} rows (webapp feedback export --kind {method})."
        )
    if method == "kto" and len(rows) < 2:  # its KL estimate needs two rows in a batch
        raise DatasetError("KTO needs at least 2 rated answers.")
    return rows


def batch_size(config: TrainConfig, rows: int) -> int:
    """KTO estimates its KL term from the other rows of a batch: at least 2."""
    return max(config.batch_size, 2) if config.method == "kto" else config.batch_size


def _trainer(config: TrainConfig, rows, tokenizer, base, batch: int, scratch: str, progress):
    """TRL's trainer for the method, on CPU-friendly settings (no checkpoints, no logs)."""
    import datasets
    from transformers import PrinterCallback
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

    datasets.disable_progress_bars()  # the run's progress is the TrainStatus
    Config, Trainer = (KTOConfig, KTOTrainer) if config.method == "kto" else (DPOConfig, DPOTrainer)
    with warnings.catch_warnings():  # TRL's own default sets the old name too
        warnings.filterwarnings("ignore", "`gradient_checkpointing` is deprecated", FutureWarning)
        args = _args(Config, config, batch, scratch)
    trainer = Trainer(
        model=base,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=config.peft_config(base.config.num_hidden_layers),
        callbacks=[progress],
    )
    trainer.remove_callback(PrinterCallback)  # it prints every step's logs to stdout
    return trainer


def _args(Config, config: TrainConfig, batch: int, scratch: str):
    return Config(
        output_dir=scratch,
        per_device_train_batch_size=batch,
        num_train_epochs=config.epochs,
        learning_rate=config.lr,
        beta=config.beta,
        max_length=config.max_length,
        lr_scheduler_type="linear",  # as training._loop: decay to zero, clipped gradients
        max_grad_norm=training.MAX_GRAD_NORM,
        seed=config.seed,
        bf16=config.bf16,
        use_cpu=True,
        gradient_checkpointing=False,  # TRL turns it on; recomputing is slower on CPU
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )


def _tokens(tokenizer, row: dict) -> int:
    """The tokens one pass over the row reads: the prompt with each of its answers."""
    answers = [row[k] for k in ("completion", "chosen", "rejected") if k in row]
    return sum(
        len(
            tokenizer.apply_chat_template(row["prompt"] + a, tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )
        for a in answers
    )


class Progress(TrainerCallback):
    """TRL's steps and losses into the TrainStatus the UI and CLI read; Cancel stops the
    run between two steps."""

    def __init__(self, status: TrainStatus, report, cancel: threading.Event):
        self.status, self.report, self.cancel = status, report, cancel
        self.clock = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.clock = time.perf_counter()
        self.status.total_steps = state.max_steps or self.status.total_steps

    def on_step_begin(self, args, state, control, **kwargs):
        if self.cancel.is_set():
            raise TrainingCancelled("Training was cancelled; no adapter was saved.")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        status = self.status
        status.step = state.global_step
        status.epoch = min(status.epochs, max(1, math.ceil(state.epoch or 0)))
        status.train_loss.append((state.global_step, round(float(logs["loss"]), 4)))
        training._timing(status, self.clock, 0)
        self.report(status)
