"""Evaluation runs: each question asked of each configuration (base, base + RAG, an adapter,
an adapter + RAG) through the same chat service users talk to, then scored.

Per configuration: exact match, token F1 and "contains the gold answer" on answerable
questions; hit@k and MRR of the gold source among the passages the model was shown; citation
correctness (a source the answer cites contains the gold answer); abstention on questions
marked unanswerable; the same answer scores on paraphrased questions; mean latency and
tokens per second. Runs are saved as JSON under storage/evals/<owner key>/
(webapp.evaluation.store).
"""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from webapp.chat import citations, grounding, prompts
from webapp.chat.service import ChatOptions
from webapp.errors import Cancelled, DatasetError, InvalidOption
from webapp.evaluation import metrics
from webapp.evaluation.qasets import QAItem

METRICS = [  # key, label: what the table, chart and comparison show
    ("exact_match", "Exact match"),
    ("f1", "Token F1"),
    ("contains", "Contains answer"),
    ("hit_at_k", "Source hit@k"),
    ("mrr", "Source MRR"),
    ("citation_correct", "Citation correct"),
    ("grounded", "Grounded in sources"),
    ("abstention", "Abstains when unanswerable"),
    ("paraphrase_contains", "Contains (paraphrased)"),
]
EVAL_MAX_NEW_TOKENS = 48
Progress = Callable[[float, str], None]


class EvalCancelled(Cancelled):
    """The user cancelled the evaluation."""


@dataclass(frozen=True)
class EvalConfig:
    adapter: str | None
    rag: bool
    reader: Literal["auto", "off", "on"] = (
        "auto"  # the shipped reader: auto (as the chat), off, on (even without RAG)
    )

    @property
    def name(self) -> str:
        """The machine name, as --configs takes it: base, rag, plain+rag, reader, reader+rag,
        adapter:NAME, adapter:NAME+rag."""
        if self.adapter:
            return f"adapter:{self.adapter}" + ("+rag" if self.rag else "")
        if self.reader == "on":
            return "reader+rag" if self.rag else "reader"
        if self.reader == "off" and self.rag:
            return "plain+rag"
        return "rag" if self.rag else "base"

    @property
    def label(self) -> str:
        if self.reader == "on" and not self.adapter:
            return "reader + RAG" if self.rag else "reader alone"
        if self.reader == "off" and self.rag and not self.adapter:
            return "base + RAG (no reader)"
        model = self.adapter or "base"
        return f"{model} + RAG" if self.rag else model

    @classmethod
    def parse(cls, spec: str) -> EvalConfig:
        text = spec.strip()
        low = text.lower()
        if low in ("base", "plain"):
            return cls(None, False)
        if low in ("rag", "base+rag"):
            return cls(None, True)
        if low == "plain+rag":
            return cls(None, True, "off")
        if low in ("reader", "reader+rag"):
            return cls(None, low == "reader+rag", "on")
        if low.startswith("adapter:"):
            name, _, tail = text[len("adapter:") :].partition("+")
            if name and tail.lower() in ("", "rag"):
                return cls(name, tail.lower() == "rag")
        raise InvalidOption(
            f"Unknown configuration '{spec}': use base, rag, plain+rag, reader, reader+rag, "
            "adapter:NAME or adapter:NAME+rag."
        )

    @classmethod
    def parse_list(cls, text: str) -> list[EvalConfig]:
        configs = [cls.parse(s) for s in text.split(",") if s.strip()]
        if not configs:
            raise InvalidOption("Choose at least one configuration.")
        return list(dict.fromkeys(configs))


def is_abstention(answer: str) -> bool:
    # The Chinese "not found" message holds 没有找到, which grounding.ABSTAIN knows.
    return answer.strip().startswith(prompts.NOT_FOUND[:30]) or grounding.is_abstention(answer)


def score(item: QAItem, question: str, answer, seconds: float, tokens: int, k: int) -> dict:
    """One record: the answer, what it was shown, and its scores."""
    text = answer.answer
    record = {
        "question": question,
        "gold": item.answer,
        "answerable": item.answerable,
        "answer": text,
        "sources": [
            {"file": s.file, "page": s.page, "score": s.score, "text": s.text[:600]}
            for s in answer.sources
        ],
        "latency_s": round(seconds, 3),
        "tokens": tokens,
        "abstained": is_abstention(text),
        "grounded": answer.grounded,
        "exact_match": None,
        "f1": None,
        "contains": None,
        "hit": None,
        "rr": None,
        "citation_correct": None,
    }
    if item.answerable:
        record["exact_match"] = metrics.exact_match(text, item.answer)
        record["f1"] = round(metrics.f1(text, item.answer), 4)
        record["contains"] = metrics.contains(text, item.answer)
        cited = citations.cited_numbers(text, len(answer.sources))
        if cited:
            texts = [answer.sources[n - 1].text for n in cited]
            record["citation_correct"] = max(metrics.contains(t, item.answer) for t in texts)
    if item.source and answer.rag:
        matches = [_same_source(s, item) for s in answer.sources]
        ranked = ["gold" if m else f"other{i}" for i, m in enumerate(matches)]
        record["hit"] = metrics.hit_at_k(ranked, {"gold"}, k)
        record["rr"] = metrics.reciprocal_rank(ranked, {"gold"}, k)
    return record


def _same_source(source, item: QAItem) -> bool:
    if Path(source.file).name.lower() != Path(item.source or "").name.lower():
        return False
    return item.page is None or source.page is None or source.page == item.page


def summarize(config: EvalConfig, records: list[dict]) -> dict:
    main = [r for r in records if r["variant"] == "question"]
    answerable = [r for r in main if r["answerable"]]
    unanswerable = [r for r in main if not r["answerable"]]
    para = [r for r in records if r["variant"] == "paraphrase" and r["answerable"]]
    seconds = sum(r["latency_s"] for r in records)
    tokens = sum(r["tokens"] for r in records)

    def avg(rows, key):
        value = metrics.mean([r[key] for r in rows])
        return None if value is None else round(value, 4)

    return {
        "name": config.name,
        "label": config.label,
        "adapter": config.adapter,
        "rag": config.rag,
        "n": len(answerable),
        "exact_match": avg(answerable, "exact_match") or 0.0,
        "f1": avg(answerable, "f1") or 0.0,
        "contains": avg(answerable, "contains") or 0.0,
        "hit_at_k": avg(answerable, "hit") if config.rag else None,
        "mrr": avg(answerable, "rr") if config.rag else None,
        "citation_correct": avg(answerable, "citation_correct") if config.rag else None,
        "grounded": avg([r for r in main if r["grounded"] is not None], "grounded"),
        "abstention": avg(unanswerable, "abstained"),
        "unanswerable": len(unanswerable),
        "paraphrase_n": len(para),
        "paraphrase_f1": avg(para, "f1"),
        "paraphrase_contains": avg(para, "contains"),
        "latency_s": round(seconds / len(records), 3) if records else 0.0,
        "tokens_per_s": round(tokens / seconds, 1) if seconds else None,
    }


def run(
    chat,
    owner: str,
    items: list[QAItem],
    configs: list[EvalConfig],
    *,
    top_k: int = 4,
    qaset: str = "",
    split: str = "all",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict:
    """Ask every question (and paraphrase) of every configuration; returns the run."""
    if not items:
        raise DatasetError("The question set is empty.")
    if not configs:
        raise InvalidOption("Choose at least one configuration.")
    served = getattr(chat.generator, "remote", False)  # adapters are the server's, by name
    for config in configs:  # fail before the first question, not after an hour
        if config.adapter and not served:
            chat.adapters.get(owner, config.adapter)
    asked = [(i, item, "question", item.question) for i, item in enumerate(items)]
    asked += [
        (i, item, "paraphrase", item.paraphrase) for i, item in enumerate(items) if item.paraphrase
    ]
    total, done = len(asked) * len(configs), 0
    records: list[dict] = []
    started = time.perf_counter()
    for config in configs:
        options = ChatOptions(
            use_rag=config.rag,
            top_k=top_k,
            temperature=0.0,
            max_new_tokens=EVAL_MAX_NEW_TOKENS,
            adapter=config.adapter,
            short=True,
            reader=config.reader,
        )
        for index, item, variant, question in asked:
            if cancel is not None and cancel.is_set():
                raise EvalCancelled("The evaluation was cancelled; nothing was saved.")
            if progress:
                progress(
                    done / total, f"{config.label}: question {done % len(asked) + 1}/{len(asked)}"
                )
            t0 = time.perf_counter()
            answer = chat.ask(owner, question, [], options)
            seconds = time.perf_counter() - t0
            tokens = chat.generator.count_tokens(answer.answer) if answer.answer else 0
            record = score(item, question, answer, seconds, tokens, top_k)
            records.append({"config": config.name, "index": index, "variant": variant, **record})
            done += 1
    if progress:
        progress(1.0, "done")
    now = datetime.now(UTC)
    return {
        "run_id": f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}",
        "created": now.isoformat(timespec="seconds"),
        "qaset": qaset,
        "split": split,
        "questions": len(items),
        "top_k": top_k,
        "model": getattr(chat.generator, "name", ""),
        "seconds": round(time.perf_counter() - started, 1),
        "configs": [summarize(c, [r for r in records if r["config"] == c.name]) for c in configs],
        "records": records,
    }


def public_summary(run: dict) -> dict:
    """The `webapp eval --json` contract."""
    keys = [
        "name",
        "label",
        "adapter",
        "rag",
        "n",
        "exact_match",
        "f1",
        "contains",
        "hit_at_k",
        "mrr",
        "citation_correct",
        "grounded",
        "abstention",
        "paraphrase_contains",
        "latency_s",
        "tokens_per_s",
    ]
    return {
        "run_id": run["run_id"],
        "qaset": run.get("qaset", ""),
        "split": run.get("split", "all"),
        "configs": [{k: c.get(k) for k in keys} for c in run["configs"]],
    }


# -- the per-question view and exports ------------------------------------------------------
def question_keys(run: dict) -> list[tuple[int, str]]:
    """(question index, variant) in display order: each question, then its paraphrase."""
    keys = {(r["index"], r["variant"]) for r in run["records"]}
    return sorted(keys, key=lambda k: (k[0], k[1] != "question"))


def drilldown(run: dict) -> list[dict]:
    """One row per question: the question, gold answer and, per configuration, ✓ when the
    answer contains the gold answer (or, for an unanswerable question, declines)."""
    labels = {c["name"]: c["label"] for c in run["configs"]}
    rows: dict[tuple[int, str], dict] = {}
    for r in run["records"]:
        key = (r["index"], r["variant"])
        number = f"{r['index'] + 1}" + (" (reworded)" if r["variant"] == "paraphrase" else "")
        row = rows.setdefault(
            key,
            {"#": number, "question": r["question"], "gold": r["gold"] or "(unanswerable)"},
        )
        right = r["contains"] if r["answerable"] else r["abstained"]
        row[labels[r["config"]]] = "✓" if right else "✗"
    return [rows[k] for k in question_keys(run)]


def to_csv(run: dict) -> str:
    fields = [
        "config",
        "index",
        "variant",
        "question",
        "gold",
        "answer",
        "exact_match",
        "f1",
        "contains",
        "hit",
        "rr",
        "citation_correct",
        "abstained",
        "latency_s",
        "tokens",
        "sources",
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in run["records"]:
        where = "; ".join(
            f"{s['file']}" + (f" p.{s['page']}" if s.get("page") else "") for s in r["sources"]
        )
        writer.writerow({**r, "sources": where})
    return out.getvalue()


def compare(a: dict, b: dict) -> list[dict]:
    """Metric by metric, for configurations present in both runs: a, b and b - a."""
    rows = []
    b_configs = {c["name"]: c for c in b["configs"]}
    for ca in a["configs"]:
        cb = b_configs.get(ca["name"])
        if cb is None:
            continue
        for key, label in [*METRICS, ("latency_s", "Latency (s)")]:
            va, vb = ca.get(key), cb.get(key)
            if va is None and vb is None:
                continue
            delta = round(vb - va, 4) if va is not None and vb is not None else None
            rows.append({"config": ca["label"], "metric": label, "a": va, "b": vb, "change": delta})
    if not rows:
        raise DatasetError("The two runs share no configuration to compare.")
    return rows
