"""A reader adapter: retrieval-augmented fine-tuning on the user's own documents.

Each training row is a RAG prompt exactly as the chat builds it (the model's chat template,
numbered passages, the question, the answer request) holding the passage that answers the
question among retrieved distractor passages, in a random position; the target is the
answer span with its citation ("1889 [2]"). Only the target tokens are learned, so the
adapter learns to find the answer among the passages and cite it — a skill, not facts —
which is why it helps on documents it never saw.

Questions come from the question-set builder (extractive spans of the documents), or from a
question set the user made.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from webapp.adapters.config import TrainConfig
from webapp.adapters.datasets import Example, QAItem, TrainingSet
from webapp.chat import prompts
from webapp.errors import DatasetError
from webapp.retrieval.retriever import Source

if TYPE_CHECKING:
    from webapp.knowledge.base import KnowledgeBase
    from webapp.knowledge.documents import Chunk
    from webapp.models.generator import Generator
    from webapp.models.remote import RemoteGenerator

Retrieve = Callable[[str, str, int], list[Source]]  # (owner, question, top_k): the chat's search

DISTRACTORS = 2
MAX_LENGTH = 640  # tokens per row: three passages of ~180 tokens, the question, the answer
ANSWER_ROOM = 48


def reader_config(name: str, **overrides) -> TrainConfig:
    """LoRA settings for a reader: longer rows, two epochs."""
    values = {"name": name, "epochs": 2, "max_length": MAX_LENGTH, **overrides}
    return TrainConfig(**values)


def gold_passage(item: QAItem, file: str, doc_id: str, chunks: list[Chunk]) -> Source | None:
    """The chunk of the item's source document (`file`) that contains its answer."""
    for chunk in chunks:
        if item.answer.lower() in " ".join(chunk.text.split()).lower():
            return Source(file, chunk.page, 1.0, chunk.text, doc_id)
    return None


def build(
    generator: Generator | RemoteGenerator,
    knowledge: KnowledgeBase,
    retrieve: Retrieve,
    owner: str,
    items: list[QAItem],
    name: str = "reader questions",
    distractors: int = DISTRACTORS,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    request: str | None = None,
) -> TrainingSet:
    """Reader training rows for answerable items whose answer is found in their source.
    `generator` counts the prompt's tokens; `retrieve` is the chat's search (ChatService.
    retrieve), which gives the distractors. `request`: the answer request of every row
    (default: the chat's and the short one, drawn at random)."""
    rng = random.Random(seed)
    docs = {d.file: d for d in knowledge.list_documents(owner)}
    wanted = {i.source for i in items if i.source in docs}
    chunks_by_file = {f: (f, docs[f].id, knowledge.chunks(owner, docs[f].id)) for f in wanted}
    budget = MAX_LENGTH - ANSWER_ROOM
    examples, skipped = [], 0
    usable = [i for i in items if i.answerable and i.answer and i.source in chunks_by_file]
    for n, item in enumerate(usable):
        if progress and n % 10 == 0:
            progress(n / max(len(usable), 1), f"question {n + 1}/{len(usable)}")
        gold = gold_passage(item, *chunks_by_file[item.source or ""])  # usable: has a source
        if gold is None:
            skipped += 1
            continue
        found = retrieve(owner, item.question, distractors + 2)
        others = [s for s in found if s.text.strip() != gold.text.strip()][:distractors]
        passages = [gold, *others]
        rng.shuffle(passages)
        asked = request or rng.choice([prompts.SHORT_REQUEST, prompts.ANSWER_REQUEST])
        messages, used = prompts.rag_messages(
            item.question, passages, generator, budget, request=asked
        )
        position = next((k for k, s in enumerate(used, start=1) if s is gold), None)
        if position is None:  # the gold passage did not fit: nothing to learn from
            skipped += 1
            continue
        target = f"{item.answer} [{position}]"
        examples.append(Example(messages=[*messages, {"role": "assistant", "content": target}]))
    if not examples:
        raise DatasetError(
            "No reader examples could be made: the questions' answers were not found in "
            "their source documents."
        )
    body = "\n".join(json.dumps(i.as_row(), sort_keys=True) for i in usable).encode()
    return TrainingSet(name, examples, hashlib.sha256(body).hexdigest(), len(body), "reader")
