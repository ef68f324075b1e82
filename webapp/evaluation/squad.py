"""SQuAD-format data (e.g. XQuAD in ../shared/data) as documents plus a question set.

Each paragraph becomes a small text document named after its article and position, and each
question a QAItem whose source is that document, so an evaluation ingests the documents and
asks the questions exactly as a user would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from webapp.evaluation.qasets import QAItem


@dataclass
class Paragraph:
    file: str
    text: str
    questions: list[QAItem]


def load(path: Path) -> list[Paragraph]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for article in data["data"]:
        title = re.sub(r"[^A-Za-z0-9]+", "_", article.get("title", "article")).strip("_")[:40]
        for n, paragraph in enumerate(article["paragraphs"], start=1):
            file = f"{title}_{n}.txt"
            items = [
                QAItem(
                    question=qa["question"].strip(),
                    answer=qa["answers"][0]["text"].strip(),
                    source=file,
                )
                for qa in paragraph["qas"]
                if qa.get("answers")
            ]
            out.append(Paragraph(file, paragraph["context"], items))
    return out


def write_documents(paragraphs: list[Paragraph], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in paragraphs:
        path = folder / p.file
        path.write_text(p.text, encoding="utf-8")
        paths.append(path)
    return paths


def sample_questions(paragraphs: list[Paragraph], n: int, seed: int = 0) -> list[QAItem]:
    """n questions spread over the paragraphs (one per paragraph first), reproducibly."""
    import random

    rng = random.Random(seed)
    pools = [list(p.questions) for p in paragraphs if p.questions]
    for pool in pools:
        rng.shuffle(pool)
    chosen: list[QAItem] = []
    while len(chosen) < n and any(pools):
        for pool in pools:
            if pool and len(chosen) < n:
                chosen.append(pool.pop())
    return chosen
