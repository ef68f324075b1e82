"""The Chroma side of the knowledge base: the client (embedded, or a server shared by every
replica), one collection per owner, reads in pages, and the one home of "the document store
is unreachable" (a server that is down or refuses the token becomes a plain message)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from webapp.config import Settings
from webapp.errors import StoreUnavailable
from webapp.owners import owner_key

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

PREFIX = "kb_"  # collection names: kb_<owner key>
PAGE = 5000  # rows per Chroma read: SQLite refuses more than 32,766 variables in one query
UNREACHABLE = (
    "The document store is not reachable right now, so nothing was changed. Try again in a moment."
)
REFUSED = (
    "The document store refused this app's credentials, so nothing was changed "
    "(check WEBAPP_CHROMA_TOKEN and WEBAPP_CHROMA_AUTH_HEADER)."
)


def store_failure(exc: BaseException) -> str | None:
    """The plain message for a Chroma server that is down or refuses the token; None for
    any other error."""
    import httpx
    from chromadb.errors import AuthorizationError, ChromaAuthError

    if isinstance(exc, httpx.TransportError):
        return UNREACHABLE
    if isinstance(exc, ChromaAuthError | AuthorizationError):  # Chroma's token auth: 403
        return REFUSED
    return None


def reachable(method: F) -> F:
    """A Chroma server that is down (or refuses the token) becomes a plain message
    (StoreUnavailable), not a traceback; the next call tries again, so service resumes
    once it is back."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            message = store_failure(exc)
            if message is None:
                raise
            raise StoreUnavailable(message) from exc

    return call  # type: ignore[return-value]


def open_client(settings: Settings) -> Any:  # chromadb's ClientAPI
    """The Chroma client: a server when WEBAPP_CHROMA_URL is set (StoreUnavailable, with
    the reason, when it cannot be reached), else the embedded store in the storage folder."""
    import chromadb

    options = chromadb.Settings(anonymized_telemetry=False)
    if not settings.chroma_url:
        return chromadb.PersistentClient(
            path=str(settings.storage_dir / "chroma"), settings=options
        )
    from urllib.parse import urlsplit

    import httpx

    url = urlsplit(settings.chroma_url)
    headers = chroma_headers(settings)
    try:
        return chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            headers=headers or None,
            settings=options,
        )
    except Exception as exc:  # not cached: the next request tries again
        message = store_failure(exc)
        if message is None:  # a proxy's own 401/403 reaches chromadb as a bare error
            probe = f"{settings.chroma_url.rstrip('/')}/api/v2/auth/identity"
            try:
                refused = httpx.get(probe, headers=headers, timeout=5).status_code
            except httpx.HTTPError:
                refused = None
            message = REFUSED if refused in (401, 403) else UNREACHABLE
        raise StoreUnavailable(message) from exc


def chroma_headers(settings: Settings) -> dict[str, str]:
    """WEBAPP_CHROMA_TOKEN in the header the server's token auth reads (none without one)."""
    token = settings.chroma_token
    if not token:
        return {}
    if settings.chroma_auth_header == "Authorization":
        return {"Authorization": f"Bearer {token}"}
    return {settings.chroma_auth_header: token}


def health(open_client: Callable[[], Any], settings: Settings) -> dict:
    """{"ok", "detail"} for the health check; `open_client()` gives the client (it may
    raise StoreUnavailable)."""
    where = "Chroma server" if settings.chroma_url else "embedded Chroma"
    try:
        open_client().count_collections()  # unlike the heartbeat, it needs the token
        return {"ok": True, "detail": where}
    except Exception as exc:
        refused = REFUSED in (str(exc), store_failure(exc))
        return {
            "ok": False,
            "detail": f"{where}: {'refused the token' if refused else 'not reachable'}",
        }


def collection_name(owner: str) -> str:
    return f"{PREFIX}{owner_key(owner)}"


def collection_names(client: Any) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def get_all(collection: Any, include: list[str], where: dict | None = None) -> dict:
    """`collection.get` of every matching row, read in pages (one unpaged read of a
    collection past ~32k chunks fails inside Chroma's SQLite)."""
    out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
    offset, page = 0, PAGE
    while True:
        got = collection.get(where=where, include=include, limit=page, offset=offset)
        for key in out:
            out[key] += list(got[key] or [])
        if len(got["ids"]) < page:
            return out
        offset += page


def reopen(client: Any) -> None:
    """Embedded Chroma (1.5) can be left stuck by a write that failed for lack of space:
    seconds later its next write hangs for good. Fresh bindings on the same files clear
    that; they replace the old in place, so every collection object keeps working."""
    server = getattr(client, "_server", None)
    if server is None or not hasattr(server, "bindings"):  # a Chroma server: not ours
        return
    try:
        server.start()  # builds new bindings; the old go once no call is using them
    except Exception:
        log.exception("could not reopen Chroma after a full disk")
