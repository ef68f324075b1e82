"""Embeddings from an OpenAI-compatible server (TEI, vLLM, Infinity, Ollama) instead of the
local model, through LlamaIndex's OpenAILikeEmbedding: one embedder shared by every replica,
on a GPU, while the replicas stay small.

Chunk sizes are still counted here, because the splitter needs a tokenizer before anything is
sent: with the served model's tokenizer when WEBAPP_EMBED_MODEL is a local folder, otherwise
with the bundled all-MiniLM-L6-v2's (exact for that model, an estimate for others, whose
windows are usually larger than the 200-token chunks). A server that is down, or that refuses
a request, becomes StoreUnavailable: an upload is refused whole (the vectors are made before
anything is stored), a question gets a plain message, and the next request tries again.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import httpx
from llama_index.embeddings.openai_like import OpenAILikeEmbedding
from pydantic import PrivateAttr

from webapp.config import BUNDLED_EMBEDDER
from webapp.errors import StoreUnavailable
from webapp.models.remote import unreachable

UNREACHABLE = "The embedding server is not reachable right now. Try again in a moment."
# What the bundled model is called on the Hub, hence on a server that serves it.
BUNDLED_SERVED_NAME = "sentence-transformers/all-MiniLM-L6-v2"
GATEWAY_DOWN = (502, 503, 504)  # a proxy in front of a server that is down, or a busy TEI


def served_name(spec: str) -> str:
    return BUNDLED_SERVED_NAME if spec == BUNDLED_EMBEDDER else spec


class RemoteEmbedder(OpenAILikeEmbedding):
    remote: ClassVar[bool] = True
    _tokenizer: Any = PrivateAttr()

    def __init__(self, base_url: str, model: str, api_key: str, tokenizer):
        super().__init__(
            model_name=model,
            api_base=base_url.rstrip("/"),
            api_key=api_key or "unused",
            embed_batch_size=32,  # TEI's default --max-client-batch-size
            # Plain floats: base64, the OpenAI client's default, is not served everywhere.
            additional_kwargs={"encoding_format": "float"},
            timeout=120,
            max_retries=0,  # a user is waiting: say it is down instead of retrying for minutes
        )
        self._tokenizer = tokenizer

    @property
    def counting_tokenizer(self):
        return self._tokenizer

    def _get_query_embedding(self, query: str) -> list[float]:
        with _plain_errors():
            return super()._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        with _plain_errors():
            return super()._get_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        with _plain_errors():
            return super()._get_text_embeddings(texts)

    def check(self) -> dict:
        """Embeds one word: works on every OpenAI-compatible server (not all list models)."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        body = {"input": ["ok"], "model": self.model_name, "encoding_format": "float"}
        try:
            response = httpx.post(
                f"{self.api_base}/embeddings", json=body, headers=headers, timeout=5
            )
            response.raise_for_status()
            response.json()["data"][0]["embedding"]
            return {"ok": True, "detail": f"embedding server, model {self.model_name}"}
        except httpx.HTTPStatusError as exc:  # up, but it will not embed (an unknown model)
            return {
                "ok": False,
                "detail": f"embedding server: refused (HTTP {exc.response.status_code})",
            }
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
            return {"ok": False, "detail": "embedding server: not reachable"}


@contextlib.contextmanager
def _plain_errors():
    """The server's failures as messages users can read; anything else is a bug: raised."""
    try:
        yield
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        if unreachable(exc) or status in GATEWAY_DOWN:
            raise StoreUnavailable(UNREACHABLE) from exc
        if isinstance(status, int):  # e.g. 404: the server does not serve that model
            raise StoreUnavailable(
                f"The embedding server refused the request (HTTP {status}). Try again later; "
                "if it keeps failing, the server or WEBAPP_EMBED_MODEL needs a look."
            ) from exc
        raise
