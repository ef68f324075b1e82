"""Generation on an OpenAI-compatible server (vLLM, TGI, llama.cpp server, Ollama,
`transformers serve`) instead of the local model, through LlamaIndex's OpenAILike.

Same interface as `Generator`, so the chat service does not know which one it talks to.
Prompt budgets are counted with a local tokenizer (the bundled model's, or WEBAPP_LLM_MODEL's
when that is a local path): exact for the bundled model, an estimate for others, which the
server's own limit backs up. Adapters live on the server (vLLM `--lora-modules name=path`):
each is asked for by its name as the model.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx

from webapp.errors import StoreUnavailable
from webapp.models.generator import GenerationOptions, TokenBudget

DEFAULTS = GenerationOptions()
UNREACHABLE = "The model server is not reachable right now. Try again in a moment."


class RemoteGenerator(TokenBudget):
    remote = True

    def __init__(self, base_url: str, model: str, api_key: str, tokenizer, context_window: int):
        from llama_index.llms.openai_like import OpenAILike

        self.base_url = base_url.rstrip("/")
        self.name = model
        self.api_key = api_key
        self.tokenizer = tokenizer
        self._context_window = context_window
        self._llm = OpenAILike(
            model=model,
            api_base=self.base_url,
            api_key=api_key or "unused",
            is_chat_model=True,
            context_window=context_window,
            timeout=120,
            max_retries=0,  # a user is waiting: say it is down instead of retrying for minutes
        )

    @property
    def context_window(self) -> int:
        return self._context_window

    def prompt_tokens(self, messages: list[dict]) -> int:
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        return len(ids["input_ids"] if isinstance(ids, dict) else ids)

    def stream(
        self,
        messages: list[dict],
        options: GenerationOptions = DEFAULTS,
        stop: threading.Event | None = None,
        adapter=None,
    ) -> Iterator[str]:
        """Yield text pieces as the server streams them; `adapter` (a served adapter's name,
        or an object with .name) is asked for as the model."""
        from llama_index.core.llms import ChatMessage

        model = getattr(adapter, "name", adapter) or self.name
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        kwargs = {"model": model, "max_tokens": options.max_new_tokens}
        kwargs["temperature"] = options.temperature
        try:
            for response in self._llm.stream_chat(chat, **kwargs):
                if stop is not None and stop.is_set():
                    break
                if response.delta:
                    yield response.delta
        except Exception as exc:
            if unreachable(exc):
                raise StoreUnavailable(UNREACHABLE) from exc
            raise

    def complete(self, messages, options: GenerationOptions = DEFAULTS, adapter=None):
        return "".join(self.stream(messages, options, adapter=adapter)).strip()

    def served_models(self) -> list[str]:
        """What the server offers (GET /v1/models): the base model and its adapters."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.get(f"{self.base_url}/models", headers=headers, timeout=5)
            response.raise_for_status()
            return [m["id"] for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise StoreUnavailable(UNREACHABLE) from exc

    def check(self) -> dict:
        try:
            self.served_models()
            return {"ok": True, "detail": f"model server, model {self.name}"}
        except StoreUnavailable:
            return {"ok": False, "detail": "model server: not reachable"}

    def load_adapter(self, adapter) -> str:  # adapters are the server's
        return getattr(adapter, "name", str(adapter))

    def unload_adapter(self, adapter) -> None:
        return None


def unreachable(exc: BaseException) -> bool:
    """A transport failure (refused, reset, timed out) anywhere in the chain of causes."""
    seen: BaseException | None = exc
    while seen is not None:
        name = type(seen).__name__
        if isinstance(seen, httpx.TransportError) or name in (
            "APIConnectionError",
            "APITimeoutError",
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
