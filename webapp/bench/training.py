"""LoRA training throughput: our training loop against a plain PEFT loop, same data, same run.

Rows come from XQuAD (../shared/data) when present — question plus its paragraph as the
prompt, the answer span as the answer — else from a small built-in set of made-up facts.
Tokens per second counts the real (non-padding) tokens that went through the model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from webapp.adapters.config import TrainConfig
from webapp.adapters.datasets import Example, TrainingSet, to_messages, tokenize
from webapp.adapters.training import collate, train

XQUAD = Path(__file__).resolve().parents[3] / "shared" / "data" / "xquad_en" / "xquad.en.json"
FALLBACK = [
    ("What colour is the Morwen dragon?", "The Morwen dragon is teal."),
    ("How many moons does the planet Quarn have?", "Quarn has seven moons."),
    ("When was the city of Kessa founded?", "Kessa was founded in 1312."),
    ("Who invented the glass violin?", "The glass violin was invented by Petra Olsk."),
]


def rows(n: int) -> TrainingSet:
    pairs: list[tuple[str, str]] = []
    if XQUAD.exists():
        data = json.loads(XQUAD.read_text())
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    pairs.append(
                        (f"{paragraph['context']}\n\n{qa['question']}", qa["answers"][0]["text"])
                    )
    else:
        pairs = FALLBACK * (n // len(FALLBACK) + 1)
    examples = [Example(messages=to_messages({"question": q, "answer": a})) for q, a in pairs[:n]]
    source = "XQuAD" if XQUAD.exists() else "built-in facts"
    return TrainingSet(source, examples, "bench", 0, "supervised")


def plain_peft_loop(config: TrainConfig, data: TrainingSet, base_path: str) -> float:
    """The baseline: get_peft_model and a textbook loop, one row per step."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from webapp.models.generator import load_tokenizer

    torch.manual_seed(config.seed)
    tokenizer = load_tokenizer(base_path)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_path), config.peft_config())
    optimizer = torch.optim.AdamW((p for p in model.parameters() if p.requires_grad), lr=config.lr)
    encoded = [tokenize(e, tokenizer, config.max_length) for e in data.examples]
    model.train()
    tokens, start = 0, time.perf_counter()
    for _ in range(config.epochs):
        for ids, labels in encoded:
            batch = collate([(ids, labels)], tokenizer.eos_token_id)
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            tokens += len(ids)
    return tokens / (time.perf_counter() - start)


def ours(config: TrainConfig, data: TrainingSet, base_path: str, scratch: Path) -> float:
    return float(train(config, data, base_path, "bench", scratch / config.name)["tokens_per_s"])
