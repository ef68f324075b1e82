"""What the Adapters tab shows: the status line and its progress bar, the loss curve, the
table of adapters, plain messages for wrong settings, and a fresh folder for an export;
words in the visitor's language `lang` (webapp.ui.i18n)."""

from __future__ import annotations

import html
import math
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import pydantic

from webapp.ui.i18n import say
from webapp.ui.render import short_date, table

EXPORT_PREFIX = "docchat-export-"
EXPORT_MAX_AGE_S = 3600
FROM_FILE, FROM_DOCS, FROM_READER = "A file", "My documents", "Reader for my documents"
FROM_FEEDBACK = "My feedback"  # the chat's 👍/👎 (KTO) or 👎 with a better answer (DPO)
METHODS = ["lora", "prompt", "prefix", "kto", "dpo"]  # labelled i18n("method_<method>")
FIELDS = [  # the TrainConfig fields the form sets, labelled i18n("train_<field>")
    "name",
    "method",
    "epochs",
    "learning_rate",
    "rank",
    "alpha",
    "dropout",
    "target",
    "virtual_tokens",
    "validation_fraction",
]
ADAPTER_COLUMNS = [
    "col_name",
    "col_method",
    "col_data",
    "col_rows",
    "col_epochs",
    "col_final_loss",
    "col_val_loss",
    "col_tokens_per_s",
    "col_finished",
]


# -- training configuration --------------------------------------------------------------------
def settings_message(exc: pydantic.ValidationError, lang: str = "en") -> str:
    """The form's validation errors in plain words, each after its field's label."""
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        label = say(lang, f"train_{field}") if field in FIELDS else field
        message = error["msg"].removeprefix("Value error, ")  # pydantic's, or the config's
        parts.append(f"{label}: {message[:1].lower()}{message[1:]}")
    return say(lang, "check_settings", problems="; ".join(parts))


# -- what the progress display shows -------------------------------------------------------
def status_line(job, ahead: int, lang: str = "en") -> str:
    s = job.status
    if s.state == "queued":
        return say(lang, "training_waiting", ahead=ahead) if ahead else say(lang, "starting")
    if s.state == "starting":
        return say(lang, "training_loading")
    if s.state == "saving":
        return say(lang, "training_saving")
    parts = [
        say(lang, "training_step", step=s.step, total=s.total_steps),
        say(lang, "training_epoch", epoch=s.epoch, epochs=s.epochs),
    ]
    if s.train_loss:
        parts.append(say(lang, "training_loss", loss=f"{s.train_loss[-1][1]:.3f}"))
    if s.eta_s is not None:
        parts.append(say(lang, "training_eta", seconds=round(s.eta_s)))
    return " · ".join(parts)


def outcome(job, lang: str = "en") -> tuple[str, str]:
    """('done' | 'cancelled' | 'failed', plain words) for a finished job; how a run failed
    is the domain's message."""
    if job.metadata is not None:
        loss = job.metadata.get("final_train_loss")
        tail = say(lang, "training_final_loss", loss=f"{loss:.3f}") if loss is not None else ""
        return "done", say(lang, "training_done", name=job.config.name) + tail
    state = job.status.state if job.status.state == "cancelled" else "failed"
    why = job.status.message or say(lang, f"training_{state}")
    return state, say(lang, f"outcome_{state}", why=why)


def status_html(text: str, fraction: float | None, state: str = "running") -> str:
    bar = f"<progress max='1' value='{fraction:.3f}'></progress>" if fraction is not None else ""
    return f"<div class='train-status {state}'><p>{html.escape(text)}</p>{bar}</div>"


def loss_frame(train: list, val: list) -> pd.DataFrame:
    # Gradio's plot fixes its colour domain when first drawn (here: before the first step), so
    # every frame names both series with an empty point that draws nothing.
    rows = [(1, math.nan, "train"), (1, math.nan, "validation")]
    rows += [(s, v, "train") for s, v in train] + [(s, v, "validation") for s, v in val]
    frame = pd.DataFrame(rows, columns=["step", "loss", "series"])
    return frame.astype({"step": "int64", "loss": "float64", "series": "str"})


def curve_of(job) -> pd.DataFrame:
    if job.metadata is not None:  # the saved curves are complete, whatever the status shows
        m = job.metadata
        return loss_frame(m.get("train_loss_curve") or [], m.get("val_loss_curve") or [])
    return loss_frame(list(job.status.train_loss), list(job.status.val_loss))


# -- the list of adapters --------------------------------------------------------------------
def dash(value, digits: int | None = None):
    """The value for a table cell: "–" when unknown, numbers rounded to `digits`."""
    if value is None:
        return "–"
    if digits is None:
        return value
    return round(value, digits) if digits else round(value)


def adapter_table(infos, lang: str = "en") -> dict:
    rows = []
    for s in (info.summary() for info in infos):
        method = say(lang, f"method_{s['method']}") if s["method"] in METHODS else s["method"]
        rows.append(
            [
                s["name"],
                method,
                dash(s["dataset"]),
                dash(s["rows"]),
                dash(s["epochs"]),
                dash(s["final_train_loss"], 4),
                dash(s["final_val_loss"], 4),
                dash(s["tokens_per_s"], 0),
                short_date(s["finished"]) if s["finished"] else "–",
            ]
        )
    return table(lang, ADAPTER_COLUMNS, rows)


def fresh_export_dir() -> Path:
    """A new temp folder for one export (never storage/); old exports are swept away."""
    now = time.time()
    for old in Path(tempfile.gettempdir()).glob(EXPORT_PREFIX + "*"):
        if now - old.stat().st_mtime > EXPORT_MAX_AGE_S:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=EXPORT_PREFIX))
