"""Streaming text generation with a transformers causal LM.

Streaming is the primitive (`stream`); `complete` is built on it. A stop event lets the UI's
Stop button, or a client that went away, end generation between two tokens.

Speed: on a CPU with native bf16 the base model answers from a bf16/4-bit copy
(webapp.models.quantize); adapters run on the fp32 model their layers were trained against.
Generation runs on the compute thread (webapp.models.compute), never on the request's.

Adapters: the base model stays loaded; LoRA adapters are added to one PEFT model (multi-adapter
loading) and prompt/prefix adapters wrap the same base. Which adapter is active is model
state, so each generation holds a lock while it selects its adapter and runs: two sessions on
different adapters never see each other's weights, even at the same moment.

Where an answer ends (the Stop button, loops, a base model's stop texts): webapp.models.stops.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TextIteratorStreamer

from webapp.models import compute, stops


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 256
    temperature: float = 0.0
    drafts: bool = True  # prompt-lookup drafts where the generator has them on (benchmarks: off)


class AdapterRef(Protocol):
    """What the generator needs to know of an adapter (see adapters.registry.AdapterInfo)."""

    @property
    def key(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> object: ...


# A base model (no chat template of its own, such as gemma-3-270m) is prompted as a
# completion: the system text, then each turn as "the user's text, Answer: the reply", the
# prompt ending in "Answer:". prompts.rag_messages puts worked examples before the question
# for such a model (`Generator.few_shot`), and its answer ends at a blank line or where it
# starts a new question of its own (stops.COMPLETION_STOPS).
COMPLETION_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}{{ m['content'] }}\nAnswer:"
    "{% else %} {{ m['content'] }}\n\n{% endif %}{% endfor %}"
)


def load_tokenizer(path: str):
    """The model's tokenizer; one without a chat template gets COMPLETION_TEMPLATE."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    if not tokenizer.chat_template:
        tokenizer.chat_template = COMPLETION_TEMPLATE
    return tokenizer


class TokenBudget:
    """Token counting for prompt budgets, shared by the local and the remote generator."""

    tokenizer: object

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def truncate(self, text: str, max_tokens: int, keep_end: bool = False) -> str:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) <= max_tokens:
            return text
        return self.tokenizer.decode(ids[-max_tokens:] if keep_end else ids[:max_tokens])


class Generator(TokenBudget):
    """A chat model plus its tokenizer; renders prompts with the model's own chat template."""

    def __init__(self, model, tokenizer, name: str, draft_tokens: int = 0):
        self.model = model.eval()
        self.draft_tokens = draft_tokens  # prompt-lookup decoding (see `_stream`); 0 = off
        self.fast_model = None  # answers for the base model once built (see `load`)
        self.fast_ready = threading.Event()  # clear only while the fast copy is being built
        self.fast_ready.set()
        self.tokenizer = tokenizer
        self.name = name
        # A base model is prompted as a completion, with worked examples (see load_tokenizer).
        self.few_shot = tokenizer.chat_template == COMPLETION_TEMPLATE
        self.stops = stops.COMPLETION_STOPS if self.few_shot else ()
        # A plain Lock, not an RLock: Gradio may resume a streaming generator on another
        # thread, and only a Lock may be released by a thread other than its acquirer.
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._lora = None  # one PeftModel holding every loaded LoRA adapter
        self._prompt_models: dict[str, object] = {}  # prompt/prefix adapters by internal name
        self._fast_loras: set[str] = set()  # LoRA adapters attached to the fast copy
        self._methods: dict[str, str] = {}

    # -- adapters ---------------------------------------------------------------------------
    @staticmethod
    def _internal_name(adapter: AdapterRef) -> str:
        # PEFT adapter names become module keys: no dots; the path makes it unique per owner.
        return "a" + hashlib.sha1(f"{adapter.path}|{adapter.key}".encode()).hexdigest()[:16]

    def load_adapter(self, adapter: AdapterRef) -> str:
        """Load an adapter once (a few hundred ms); later switches cost nothing."""
        name = self._internal_name(adapter)
        with self._load_lock:
            if name not in self._methods:
                compute.run(self._load_adapter, name, adapter)
            return name

    def _load_adapter(self, name: str, adapter: AdapterRef) -> None:
        from peft import PeftModel

        if adapter.method == "lora":
            if self._lora is None:
                self._lora = PeftModel.from_pretrained(
                    self.model, str(adapter.path), adapter_name=name
                )
            else:
                self._lora.load_adapter(str(adapter.path), adapter_name=name)
            self._lora.eval()
        else:
            self._prompt_models[name] = PeftModel.from_pretrained(
                self.model, str(adapter.path), adapter_name=name
            ).eval()
        self._methods[name] = adapter.method

    def unload_adapter(self, adapter: AdapterRef) -> None:
        """Free a loaded adapter (after it was deleted); a no-op when it was never loaded."""
        name = self._internal_name(adapter)
        with self._lock, self._load_lock:
            method = self._methods.pop(name, None)
            if method is None:
                return
            if method != "lora":
                del self._prompt_models[name]
            elif len(self._lora.peft_config) > 1:
                self._lora.delete_adapter(name)
            else:  # the last LoRA: take the layers out of the base model entirely
                self.model = self._lora.unload()
                self._lora = None

    def _fast_lora(self, adapter: AdapterRef) -> str | None:
        """The adapter's name on the fast copy, attached once, for LoRA adapters that ask to
        answer from it (`fast`: the shipped reader); None where it cannot (no fast copy)."""
        if not getattr(adapter, "fast", False) or adapter.method != "lora":
            return None
        if self.fast_model is None or not self.fast_ready.is_set():
            return None
        from webapp.models.quantize import attach_lora

        name = self._internal_name(adapter)
        with self._load_lock:
            if name not in self._fast_loras:
                compute.run(attach_lora, self.fast_model, name, Path(str(adapter.path)))
                self._fast_loras.add(name)
        return name

    @contextmanager
    def _model_for(self, adapter: AdapterRef | None, fast: bool = True):
        """The module to call generate on, with exactly the chosen adapter active; for the
        base model, the fast copy unless `fast` is False."""
        without_lora = self._lora.disable_adapter() if self._lora is not None else nullcontext()
        if adapter is not None and fast and (on_fast := self._fast_lora(adapter)):
            from webapp.models.quantize import activate_lora

            activate_lora(self.fast_model, on_fast)
            try:
                yield self.fast_model
            finally:
                activate_lora(self.fast_model, None)
            return
        if adapter is None:
            with without_lora:
                yield (self.fast_model if fast else None) or self.model
            return
        name = self.load_adapter(adapter)
        if self._methods[name] == "lora":
            self._lora.set_adapter(name)
            yield self._lora
        else:
            with without_lora:
                yield self._prompt_models[name]

    @classmethod
    def load(
        cls,
        path: str,
        device: str = "cpu",
        name: str | None = None,
        fast: bool = False,
        draft_tokens: int = 0,
    ) -> Generator:
        from webapp.models.quantize import fast_copy

        tokenizer = load_tokenizer(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
        generator = cls(model, tokenizer, name or path, draft_tokens)
        if fast:  # built in the background: the page is served meanwhile, fp32 answers until then
            generator.fast_ready.clear()
            # Not a daemon: a process that ends while the copy is being built (a CLI command
            # that fails fast) waits the second it takes; killed mid-build at interpreter exit,
            # torch aborted the process ("terminate called without an active exception").
            # Said explicitly: a thread started on the compute thread (a daemon) would be one.
            threading.Thread(
                target=generator._build_fast, args=(fast_copy,), name="fast-copy", daemon=False
            ).start()
        return generator

    def _build_fast(self, build) -> None:
        try:
            with self._load_lock:  # no adapter layers are injected into the model meanwhile
                self.fast_model = build(self.model)
        finally:
            self.fast_ready.set()

    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

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
        adapter: AdapterRef | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as they are generated, by the base model or `adapter`."""
        with self._lock, self._model_for(adapter) as model:
            yield from self._stream(model, messages, options, stop or threading.Event())

    def _stream(self, model, messages, options: GenerationOptions, stop: threading.Event):
        inputs = self._encode(messages).to(self.model.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        start = inputs["input_ids"].shape[1]
        kwargs = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=options.max_new_tokens,
            stopping_criteria=stops.criteria(self.tokenizer, start, stop, self.stops),
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        if options.temperature > 0:
            kwargs.update(do_sample=True, temperature=options.temperature, top_p=0.95)
        else:
            kwargs.update(do_sample=False)
        if options.drafts and self.draft_tokens and model not in self._prompt_models.values():
            # Prompt-lookup decoding (transformers' assisted generation, drafts from n-grams
            # already in the prompt or the answer): answers quote their sources, so the next
            # few tokens are often found there, and checking them takes one step that costs
            # little more than one token's (a decode step reads every weight, whether for 1
            # token or 3). The model checks each draft, so the answer is its own; only a
            # near-tie may fall the other way, as between batch sizes. 3 drafted tokens
            # measured best on real answers (README). Prompt/prefix adapters keep plain
            # decoding: PEFT adds their virtual tokens inside its own generate.
            kwargs["prompt_lookup_num_tokens"] = self.draft_tokens
        errors: list[BaseException] = []
        if compute.on_compute_thread():  # the streamer would wait for work queued behind it
            raise RuntimeError("Generator.stream cannot be consumed on the compute thread")
        done = compute.submit(self._run, model, kwargs, errors)
        try:
            yield from stops.until_stop(streamer, self.stops)
        finally:
            stop.set()  # the consumer stopped early (Stop button, closed tab): end generation
            done.result()
        if errors:
            raise errors[0]

    @staticmethod
    def _run(model, kwargs: dict, errors: list[BaseException]) -> None:
        try:
            with torch.inference_mode():
                model.generate(**kwargs)
        except BaseException as exc:  # surfaced in the consuming thread
            errors.append(exc)
            kwargs["streamer"].end()

    def complete(
        self,
        messages: list[dict],
        options: GenerationOptions = GenerationOptions(),
        adapter: AdapterRef | None = None,
    ) -> str:
        return "".join(self.stream(messages, options, adapter=adapter)).strip()

    def logits(self, text: str, adapter: AdapterRef | None = None) -> torch.Tensor:
        """Next-token logits over `text` (used to check adapters against the base)."""
        ids = self.tokenizer(text, return_tensors="pt").to(self.model.device)
        with self._lock, self._model_for(adapter, fast=False) as model:
            return compute.run(_logits, model, ids)


def _logits(model, ids) -> torch.Tensor:
    with torch.inference_mode():
        return model(**ids).logits
