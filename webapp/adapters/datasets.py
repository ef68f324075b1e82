"""Training data: rows from JSONL or CSV in three shapes, or the chunks of the knowledge base.

Accepted row shapes: {"question", "answer"}; {"instruction", "input"?, "output"}; and
{"messages": [{"role", "content"}, ...]} ending with an assistant turn. Preference rows
(`load_file(path, kind="kto"|"dpo")`, TRL's shapes, text or chat messages): KTO
{"prompt", "completion", "label"}, DPO {"prompt", "chosen", "rejected"}. Malformed rows are
reported with their line numbers; the set is refused when it is empty or too large.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from webapp.chat.prompts import PLAIN_SYSTEM_PROMPT
from webapp.errors import DatasetError, IngestError
from webapp.knowledge.formats import read_text

MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024
MAX_REPORTED = 8


@dataclass
class Example:
    """One training row: chat messages (answer tokens trained), plain text (all trained),
    or a preference row in TRL's conversational shape (kto, dpo)."""

    messages: list[dict] | None = None
    text: str | None = None
    preference: dict | None = None


@dataclass
class TrainingSet:
    name: str
    examples: list[Example]
    sha256: str
    bytes: int
    kind: str  # "supervised" | "documents" | "kto" | "dpo"
    problems: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "rows": len(self.examples),
            "sha256": self.sha256,
            "bytes": self.bytes,
            "kind": self.kind,
        }


def load_file(path: Path, name: str | None = None, kind: str = "supervised") -> TrainingSet:
    """Training rows from a file: supervised rows, or preference rows (kind kto or dpo)."""
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        raise DatasetError("The training file is empty.")
    if size > MAX_BYTES:
        raise DatasetError(
            f"The training file is {size / 1e6:.1f} MB; the limit is {MAX_BYTES // 2**20} MB."
        )
    suffix = Path(name).suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv"):  # before decoding: a PDF is not "binary text"
        raise DatasetError("Training data must be a .jsonl or .csv file.")
    try:
        text = read_text(path)
    except IngestError as exc:  # binary or undecodable: still a training-data problem
        raise DatasetError(f"The training file is not readable text: {exc}") from exc
    rows = csv_rows(text, MAX_ROWS) if suffix == ".csv" else jsonl_rows(text, MAX_ROWS)
    if kind in PREFERENCE_COLUMNS:
        examples = convert_rows(rows, lambda row: Example(preference=preference_row(row, kind)))
    else:
        examples = convert_rows(rows, lambda row: Example(messages=to_messages(row)))
    if not examples:
        raise DatasetError("The training file has no rows.")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return TrainingSet(name, examples, digest, size, kind)


def from_preference_rows(rows: list[dict], kind: str, name: str) -> TrainingSet:
    """KTO or DPO rows already in memory (the chat's feedback, exported) as a TrainingSet."""
    examples = convert_rows(
        list(enumerate(rows, start=1)), lambda row: Example(preference=preference_row(row, kind))
    )
    body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    digest = hashlib.sha256(body.encode()).hexdigest()
    return TrainingSet(name, examples, digest, len(body.encode()), kind)


PREFERENCE_COLUMNS = {
    "kto": ("prompt", "completion", "label"),
    "dpo": ("prompt", "chosen", "rejected"),
}
LABELS = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}


def preference_row(row: dict, kind: str) -> dict:
    """A KTO or DPO row as chat messages (text becomes a user or assistant turn, after the
    chat's system prompt), so it is rendered with the chat template the chat answers with.
    Raises ValueError with a short reason."""
    missing = [c for c in PREFERENCE_COLUMNS[kind] if c not in row]
    if missing:
        raise ValueError(f"a {kind} row needs {', '.join(PREFERENCE_COLUMNS[kind])}")
    prompt = row["prompt"]
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": _text(row, "prompt")}]
    prompt = _turns(prompt, "prompt")
    if prompt[-1]["role"] != "user":
        raise ValueError("the prompt must end with a user turn")
    if prompt[0]["role"] != "system":
        prompt.insert(0, {"role": "system", "content": PLAIN_SYSTEM_PROMPT})
    out = {"prompt": prompt}
    for column in PREFERENCE_COLUMNS[kind][1:]:
        if column == "label":
            label = row["label"]
            key = label if isinstance(label, bool) else str(label).strip().lower()
            if key not in LABELS:
                raise ValueError("'label' must be true or false")
            out["label"] = LABELS[key]
            continue
        value = row[column]
        if isinstance(value, str):
            value = [{"role": "assistant", "content": _text(row, column)}]
        turns = _turns(value, column)
        if [t["role"] for t in turns] != ["assistant"] or not turns[0]["content"].strip():
            raise ValueError(f"'{column}' must be one non-empty assistant answer")
        out[column] = turns
    return out


def _turns(value, column: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"'{column}' must be text or a non-empty list of messages")
    for m in value:
        if (
            not isinstance(m, dict)
            or m.get("role") not in ("system", "user", "assistant")
            or not isinstance(m.get("content"), str)
        ):
            raise ValueError(f"each message of '{column}' needs a role and text content")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def convert_rows(rows: list[tuple[int, object]], convert) -> list:
    """`convert` each (line, row); malformed rows (a string, or a ValueError from `convert`)
    are reported together with their line numbers (the first few; the rest are counted)."""
    converted, problems, count = [], [], 0
    for line, row in rows:
        try:
            if isinstance(row, str):
                raise ValueError(row)
            converted.append(convert(row))
        except ValueError as exc:
            count += 1
            if len(problems) < MAX_REPORTED:
                problems.append(f"line {line}: {exc}")
    if problems:
        more = f" (and {count - MAX_REPORTED} more)" if count > MAX_REPORTED else ""
        raise DatasetError(f"{count} malformed row(s): {'; '.join(problems)}{more}.")
    return converted


def _too_many(max_rows: int) -> DatasetError:
    return DatasetError(f"The set has more than {max_rows:,} rows; the limit is {max_rows:,}.")


def jsonl_rows(text: str, max_rows: int):
    """(line, row) pairs of a JSONL file or a JSON array; a file of more than `max_rows`
    rows is refused as soon as it passes them, before they are all held."""
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of rows is fine too
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"The JSON is not valid (line {exc.lineno}: {exc.msg}).") from exc
        except RecursionError as exc:
            raise DatasetError("The JSON is nested too deeply to be read.") from exc
        if len(data) > max_rows:  # (it starts with "[": a list)
            raise _too_many(max_rows)
        return [
            (i + 1, row if isinstance(row, dict) else "not an object") for i, row in enumerate(data)
        ]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(rows) == max_rows:
            raise _too_many(max_rows)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((number, f"not valid JSON ({exc.msg})"))
            continue
        except RecursionError:
            rows.append((number, "nested too deeply"))
            continue
        rows.append((number, row if isinstance(row, dict) else "not a JSON object"))
    return rows


def csv_rows(text: str, max_rows: int):
    reader = csv.DictReader(io.StringIO(text))
    try:
        if not reader.fieldnames:
            raise DatasetError("The CSV has no header row.")
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        rows = []
        for row in reader:  # line numbers as a spreadsheet shows them: the header is line 1
            if len(rows) == max_rows:
                raise _too_many(max_rows)
            rows.append((reader.line_num, {k: v for k, v in row.items() if k}))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KB limit
        raise DatasetError(f"The CSV could not be read ({exc}).") from exc
    return rows


def to_messages(row: dict) -> list[dict]:
    """A row in any accepted shape as chat messages ending with the assistant's answer."""
    if "messages" in row:
        messages = row["messages"]
        if isinstance(messages, str):
            try:
                messages = json.loads(messages)
            except json.JSONDecodeError as exc:
                raise ValueError("'messages' is not a JSON list") from exc
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list")
        for m in messages:
            if (
                not isinstance(m, dict)
                or m.get("role") not in ("system", "user", "assistant")
                or not isinstance(m.get("content"), str)
            ):
                raise ValueError(
                    "each message needs a role (system, user or assistant) and text content"
                )
        if messages[-1]["role"] != "assistant" or not messages[-1]["content"].strip():
            raise ValueError("the last message must be a non-empty assistant answer")
        if not any(m["role"] == "user" for m in messages):
            raise ValueError("the messages need a user turn")
        body = [dict(role=m["role"], content=m["content"]) for m in messages]
    elif "question" in row or "answer" in row:
        question, answer = _text(row, "question"), _text(row, "answer")
        body = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    elif "instruction" in row or "output" in row:
        instruction, output = _text(row, "instruction"), _text(row, "output")
        extra = str(row.get("input") or "").strip()
        prompt = f"{instruction}\n\n{extra}" if extra else instruction
        body = [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
    else:
        raise ValueError("expected question/answer, instruction/input/output or messages fields")
    if body[0]["role"] != "system":
        body.insert(0, {"role": "system", "content": PLAIN_SYSTEM_PROMPT})
    return body


def _text(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None or not str(value).strip():
        raise ValueError(f"'{key}' is missing or empty")
    return str(value).strip()


def from_documents(knowledge, owner: str) -> TrainingSet:
    """Causal-LM rows from every chunk of the owner's knowledge base."""
    docs = knowledge.list_documents(owner)
    texts = [c.text for d in docs for c in knowledge.chunks(owner, d.id)]
    if not texts:
        raise DatasetError("Your knowledge base is empty: upload documents first.")
    digest = hashlib.sha256("\n".join(sorted(d.sha256 for d in docs)).encode()).hexdigest()
    return TrainingSet(
        "my documents",
        [Example(text=t) for t in texts],
        digest,
        sum(d.bytes for d in docs),
        "documents",
    )


def tokenize(example: Example, tokenizer, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels; for chat rows only the final answer's tokens are learned."""
    if example.text is not None:
        ids = tokenizer(example.text, add_special_tokens=False)["input_ids"][:max_length]
        if tokenizer.eos_token_id is not None and len(ids) < max_length:
            ids = ids + [tokenizer.eos_token_id]
        return ids, list(ids)
    prompt = tokenizer.apply_chat_template(
        example.messages[:-1], add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    full = tokenizer.apply_chat_template(example.messages, tokenize=True, return_dict=True)[
        "input_ids"
    ]
    if full[: len(prompt)] != prompt:  # a template that renders differently: learn it all
        prompt = []
    labels = [-100] * len(prompt) + full[len(prompt) :]
    return full[:max_length], labels[:max_length]


# -- question rows: what a question set holds (webapp.evaluation.qasets) and what a reader
# is trained on (webapp.adapters.reader), so both layers read the same type
SPLITS = ("train", "test")


@dataclass
class QAItem:
    question: str
    answer: str = ""
    source: str | None = None
    page: int | None = None
    paraphrase: str | None = None
    answerable: bool = True
    split: str | None = None  # "train" | "test" | None (not split)

    def as_row(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "") or k == "answer"}

    @classmethod
    def from_row(cls, row: dict) -> QAItem:
        """Raises ValueError with a short reason for a malformed row."""
        question = _clean(row.get("question"))
        if not question:
            raise ValueError("'question' is missing or empty")
        answerable = _flag(row.get("answerable", True))
        answer = _clean(row.get("answer"))
        if answerable and not answer:
            raise ValueError(
                "'answer' is missing or empty (mark unanswerable rows answerable=false)"
            )
        split = _clean(row.get("split")).lower() or None
        if split not in (None, *SPLITS):
            raise ValueError("'split' must be train or test")
        return cls(
            question=question,
            answer=answer,
            source=_clean(row.get("source")) or None,
            page=_page(row.get("page")),
            paraphrase=_clean(row.get("paraphrase")) or None,
            answerable=answerable,
            split=split,
        )


def _clean(value) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    return " ".join(str(value).split())


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    text = _clean(value).lower()
    if text in ("", "true", "yes", "1", "y"):
        return True
    if text in ("false", "no", "0", "n"):
        return False
    raise ValueError("'answerable' must be true or false")


def _page(value) -> int | None:
    text = _clean(value)
    if not text:
        return None
    try:
        page = int(float(text))
    except ValueError as exc:
        raise ValueError("'page' must be a page number") from exc
    if page < 1:
        raise ValueError("'page' must be 1 or more")
    return page
