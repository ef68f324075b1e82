"""The shipped reader: retrieval-augmented fine-tuning (RAFT) on public text, at scale.

`make reader` (`webapp reader`) rebuilds `assets/reader/` from public text
that is no test set: SciFact's abstracts and the R manuals in ../shared/data. Those documents
go into a throwaway knowledge base, exactly as a user's uploads would (same chunks, same
hybrid search); the extractive question builder turns their sentences into thousands of
question/answer pairs, balanced over answer kinds (years, quantities, percentages, names);
`reader.build` makes each a RAG prompt that holds the answering chunk among the chunks the
search returns for the question, in a random position, with the target "answer [n]". Only
the answer tokens are learned, so the adapter learns to find and copy an answer span and to
cite it: a skill meant to carry over to documents it never saw (to be measured on held-out
XQuAD, whose paragraphs are never trained on).

The adapter is LoRA in the last layers of the bundled model only, trained in one pass under
bf16 autocast (a 320-token step: 0.50 s on two cores, against 1.98 s for every layer in fp32). `checkpoints` save the adapter along the
way, which gives the learning curve (rows trained -> contains/F1 on XQuAD) from one run.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from webapp.adapters.config import TrainConfig
from webapp.chat import prompts

if TYPE_CHECKING:
    from webapp.adapters.datasets import TrainingSet
    from webapp.adapters.reader import Retrieve
    from webapp.knowledge.base import KnowledgeBase
    from webapp.models.generator import Generator
    from webapp.models.remote import RemoteGenerator

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SCIFACT = DATA / "scifact" / "corpus.jsonl"
MANUALS = sorted((DATA / "pdfs").glob("R-*.pdf")) if (DATA / "pdfs").exists() else []
ASSET = Path(__file__).resolve().parents[2] / "assets" / "reader"
OWNER = "reader-corpus"
NAME = "reader"
PER_FILE = 10  # abstracts per document

# The starting point of the learning curve, not yet a measured choice: rank 16 on every
# linear layer of the last 10 of 30 layers (a 4x faster step), one pass at 1e-3, linear decay.
CONFIG = dict(
    name=NAME,
    epochs=1,
    rank=16,
    alpha=32,
    dropout=0.05,
    target="all-linear",
    last_layers=10,
    learning_rate=1e-3,
    bf16=True,
    max_length=640,
    seed=0,
)
# Structured abstracts' section labels ("OBJECTIVE The aim…"): a paragraph break, or the
# question builder takes "OBJECTIVE The" for a name.
LABEL = re.compile(
    r"\b(?:(?:BACKGROUND|OBJECTIVES?|AIMS?|PURPOSE|CONTEXT|INTRODUCTION|RATIONALE|DESIGN|"
    r"SETTINGS?|PARTICIPANTS|PATIENTS|SUBJECTS|INTERVENTIONS?|EXPOSURES?|MEASUREMENTS|MAIN|"
    r"OUTCOMES?|MEASURES?|MATERIALS|METHODS?|METHODOLOGY|RESULTS?|FINDINGS|CONCLUSIONS?|"
    r"INTERPRETATION|SIGNIFICANCE|RELEVANCE|SUMMARY|AND|OF)\b\s*){1,5}[:.]?\s+(?=[A-Z][a-z])"
)
KIND = re.compile(
    r"\b(on what date|what date|what year|what percentage|how much money|how many|what number|"
    r"whom|who|what)\b",
    re.I,
)


def shipped(settings):
    """The reader that answers fact questions over the user's documents (an AdapterInfo), or
    None: WEBAPP_READER=off, an inference server generating, no reader at the path, or a
    reader trained on another base model than the one that answers."""
    import logging

    from webapp.adapters.config import METADATA
    from webapp.adapters.registry import AdapterInfo

    choice = settings.reader.strip()
    if choice.lower() in ("off", "none", "") or settings.llm_base_url:
        return None
    folder = ASSET if choice.lower() == "shipped" else Path(choice).expanduser()
    if not (folder / METADATA).is_file() or not (folder / "adapter_model.safetensors").is_file():
        # The shipped one is absent until `make reader` has built it; a folder the operator
        # named that holds no reader is worth a warning.
        level = logging.INFO if folder == ASSET else logging.WARNING
        logging.getLogger(__name__).log(
            level, "no reader adapter at %s: answers come from the base model", folder
        )
        return None
    metadata = json.loads((folder / METADATA).read_text())
    if metadata.get("base_model") != settings.llm_model:
        logging.getLogger(__name__).info(
            "the reader at %s was trained on %s, not %s: not used",
            folder,
            metadata.get("base_model"),
            settings.llm_model,
        )
        return None
    return AdapterInfo(NAME, "lora", settings.llm_model, folder, metadata, fast=True)


def reader_config(**overrides) -> TrainConfig:
    return TrainConfig(**{**CONFIG, **overrides})


def corpus_files(folder: Path, abstracts: int | None = None, seed: int = 0) -> list[Path]:
    """SciFact abstracts as Markdown files of PER_FILE abstracts each (a title heading, then
    its text: documents of a few pages, as users upload them), and the R manuals as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = [json.loads(line) for line in SCIFACT.open()] if SCIFACT.exists() else []
    random.Random(seed).shuffle(docs)
    docs = docs[:abstracts]
    paths = []
    for first in range(0, len(docs), PER_FILE):
        part = docs[first : first + PER_FILE]
        body = "\n\n".join(
            f"## {d['title'].strip()}\n\n{LABEL.sub(chr(10) * 2, d['text']).strip()}" for d in part
        )
        path = folder / f"scifact-{first // PER_FILE + 1:04d}.md"
        path.write_text(body + "\n")
        paths.append(path)
    return paths + list(MANUALS)


def kind(item) -> str:
    """The answer kind of a generated question: its wh-phrase ("what year", "how many"…)."""
    m = KIND.search(item.question)
    return m.group(1).lower() if m else "other"


def balanced(items: list, limit: int, seed: int = 0) -> list:
    """At most `limit` items, drawn round-robin over answer kinds (the question's wh-phrase):
    SciFact alone would be mostly "what percentage" questions."""
    rng = random.Random(seed)
    by_kind: dict[str, list] = defaultdict(list)
    for item in items:
        by_kind[kind(item)].append(item)
    for group in by_kind.values():
        rng.shuffle(group)
    chosen: list = []
    groups = sorted(by_kind.values(), key=len)
    while len(chosen) < limit and any(groups):
        for group in groups:
            if group and len(chosen) < limit:
                chosen.append(group.pop())
    rng.shuffle(chosen)
    return chosen


class Corpus(NamedTuple):
    """A throwaway knowledge base for the reader's public text, and the chat's search over it."""

    knowledge: KnowledgeBase
    retrieve: Retrieve


OpenCorpus = Callable[[Path, int], Corpus]  # (its storage folder, the documents it must hold)


def build_rows(
    open_corpus: OpenCorpus,
    generator: Generator | RemoteGenerator,
    rows: int,
    abstracts: int | None = None,
    seed: int = 0,
    log: Callable[[str], object] = print,
) -> tuple[TrainingSet, dict]:
    """The RAFT training set: (TrainingSet, recipe dict for metadata.json). The documents go
    into `open_corpus(folder, documents)`, deleted after; `generator` counts prompt tokens."""
    from webapp.adapters import question_builder, reader

    with tempfile.TemporaryDirectory(prefix="webapp-reader-corpus-") as tmp:
        files = corpus_files(Path(tmp) / "docs", abstracts, seed)
        if not files:
            from webapp.errors import DatasetError

            raise DatasetError(f"No public text found under {DATA} to build the reader from.")
        corpus = open_corpus(Path(tmp), len(files) + 1)
        for n, path in enumerate(files):
            result = corpus.knowledge.ingest(OWNER, path, path.name)
            if result.status == "failed":
                log(f"{path.name}: {result.message}")
            if n % 50 == 0:
                log(f"indexed {n}/{len(files)} documents")
        asked = question_builder.from_documents(corpus.knowledge, OWNER, per_document=4 * PER_FILE)
        log(f"{len(asked)} questions generated from {len(files)} documents")
        chosen = balanced(asked, int(rows * 1.15) + 10, seed)  # some find no gold chunk
        data = reader.build(
            generator,
            corpus.knowledge,
            corpus.retrieve,
            OWNER,
            chosen,
            name="RAFT rows from SciFact and the R manuals",
            seed=seed,
            request=prompts.SHORT_REQUEST,
        )
    data.examples = data.examples[:rows]
    kinds = Counter(kind(item) for item in chosen)
    recipe = {
        "sources": ["SciFact corpus (BEIR), ODC-By 1.0", *[p.name + " (GPL)" for p in MANUALS]],
        "documents": len(files),
        "generated_questions": len(asked),
        "question_kinds": dict(sorted(kinds.items())),
        "rows": len(data.examples),
        "distractors": reader.DISTRACTORS,
        "request": prompts.SHORT_REQUEST,
        "sha256": data.sha256,
        "seed": seed,
    }
    return data, recipe


def rebuild(
    open_corpus: OpenCorpus,
    generator: Generator | RemoteGenerator,
    base_path: str,
    base_model: str,
    rows: int = 3000,
    out: Path = ASSET,
    abstracts: int | None = 3000,
    checkpoints: dict[int, Path] | None = None,
    log: Callable[[str], object] = print,
    **overrides: Any,
) -> dict:
    """Build the rows (build_rows), train on the base model at `base_path` (named
    `base_model`), and write the reader to `out` (adapter + metadata.json)."""
    import time

    from webapp.adapters.training import train

    started = time.perf_counter()
    data, recipe = build_rows(open_corpus, generator, rows, abstracts=abstracts, log=log)
    built = time.perf_counter() - started
    config = reader_config(**overrides)
    log(f"training the reader on {len(data.examples)} rows ({built:.0f} s to build them)")

    def report(status) -> None:
        if status.state == "training" and status.step % 100 == 0 and status.train_loss:
            log(
                f"  step {status.step}/{status.total_steps}  loss {status.train_loss[-1][1]:.3f}"
                f"  {status.eta_s or 0:.0f} s left"
            )

    metadata = train(
        config,
        data,
        base_path,
        base_model,
        out,
        report=report,
        checkpoints=checkpoints,
    )
    metadata.update(
        recipe=recipe,
        build_s=round(built, 1),
        train_s=round(time.perf_counter() - started - built, 1),
        rebuild=f"make reader  (python -m webapp reader --rows {rows})",
    )
    (out / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return metadata
