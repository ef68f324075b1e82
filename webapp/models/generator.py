"""Streaming text generation with a transformers causal LM.

Streaming is the primitive (`stream`); `complete` is built on it. A stop event lets the UI's
Stop button, or a client that went away, end generation between two tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 256
    temperature: float = 0.0


class _StopOnEvent(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        return self.event.is_set()


class Generator:
    """A chat model plus its tokenizer; renders prompts with the model's own chat template."""

    def __init__(self, model, tokenizer, name: str):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name

    @classmethod
    def load(cls, path: str, device: str = "cpu", name: str | None = None) -> Generator:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
        return cls(model, tokenizer, name or path)

    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def truncate(self, text: str, max_tokens: int, keep_end: bool = False) -> str:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) <= max_tokens:
            return text
        return self.tokenizer.decode(ids[-max_tokens:] if keep_end else ids[:max_tokens])

    def prompt_tokens(self, messages: list[dict]) -> int:
        return len(self._encode(messages)["input_ids"][0])

    def _encode(self, messages: list[dict]):
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def stream(
        self,
        messages: list[dict],
        options: GenerationOptions = GenerationOptions(),
        stop: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as they are generated."""
        stop = stop or threading.Event()
        inputs = self._encode(messages).to(self.model.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=options.max_new_tokens,
            stopping_criteria=StoppingCriteriaList([_StopOnEvent(stop)]),
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        if options.temperature > 0:
            kwargs.update(do_sample=True, temperature=options.temperature, top_p=0.95)
        else:
            kwargs.update(do_sample=False)
        errors: list[BaseException] = []
        worker = threading.Thread(target=self._run, args=(kwargs, errors), daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            stop.set()  # the consumer stopped early (Stop button, closed tab): end generation
            worker.join()
        if errors:
            raise errors[0]

    def _run(self, kwargs: dict, errors: list[BaseException]) -> None:
        try:
            with torch.inference_mode():
                self.model.generate(**kwargs)
        except BaseException as exc:  # surfaced in the consuming thread
            errors.append(exc)
            kwargs["streamer"].end()

    def complete(
        self, messages: list[dict], options: GenerationOptions = GenerationOptions()
    ) -> str:
        return "".join(self.stream(messages, options)).strip()
