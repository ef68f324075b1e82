"""Who is asking. The owner always comes from the server side, never from a client-sent id.

- local: the one local user (WEBAPP_LOCAL_USER).
- password: the account Gradio's login checked (`request.username`).
- hf: the Hugging Face sign-in (`gr.OAuthProfile`) held in the server's signed session
  cookie; an expired sign-in counts as signed out.
- anonymous: a random workspace secret the server signed and issued as an HttpOnly cookie
  (`WorkspaceCookie` below); any other value is replaced by a new one before a handler sees
  it. The session_hash a client sends is never used: it is only a page-load id chosen by the
  browser.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import gradio as gr

from webapp.config import Settings
from webapp.ui.i18n import say
from webapp.users import PREFIX, NotSignedIn, Workspaces

COOKIE = "docchat_workspace"
# Probes and crawlers' files: no workspace is made or kept alive for them.
UNTRACKED = frozenset({"/health", "/robots.txt", "/favicon.ico"})
# Why a visitor is not signed in, by sign-in mode: the key of its words (webapp.ui.i18n).
NOT_SIGNED_IN = {"password": "sign_in_first", "hf": "sign_in_hf", "anonymous": "cookies_blocked"}


def owner_of(request: gr.Request | None, settings: Settings) -> str:
    match settings.auth:
        case "local":
            return settings.local_user
        case "password":
            name = getattr(request, "username", None) if request else None
            if not name:
                raise NotSignedIn(say("en", NOT_SIGNED_IN["password"]))
            return PREFIX["password"] + name
        case "hf":
            name = hf_username(request)
            if not name:
                raise NotSignedIn(say("en", NOT_SIGNED_IN["hf"]))
            return PREFIX["hf"] + name
        case "anonymous":
            token = _cookies(request).get(COOKIE)
            if not Workspaces.well_formed(token):  # (WorkspaceCookie checked its signature)
                raise NotSignedIn(say("en", NOT_SIGNED_IN["anonymous"]))
            return Workspaces.owner(token)
    raise NotSignedIn("Unknown sign-in mode.")


def display_name(request: gr.Request | None, settings: Settings) -> str | None:
    """What the page shows as 'signed in as'; None when nobody is signed in."""
    match settings.auth:
        case "local":
            return None
        case "password":
            return getattr(request, "username", None) if request else None
        case "hf":
            return hf_username(request)
        case _:
            return "a private temporary workspace"


def hf_username(request: gr.Request | None) -> str | None:
    profile = hf_profile(request)
    return profile.username if profile else None


def hf_profile(request: gr.Request | None) -> gr.OAuthProfile | None:
    """The signed-in Hugging Face profile, read exactly as Gradio reads it for a handler
    that takes a required `gr.OAuthProfile` (same session, same expiry check), so every
    service call can take it without each handler declaring it."""
    from gradio.helpers import _session_from_request
    from gradio.oauth import _get_valid_oauth_info_from_session

    if request is None:
        return None
    try:
        info = _get_valid_oauth_info_from_session(_session_from_request(request))
    except (AssertionError, AttributeError):  # no session middleware: not signed in
        return None
    userinfo = (info or {}).get("userinfo") or {}
    if not userinfo.get("preferred_username"):
        return None
    return gr.OAuthProfile({"name": "", "profile": "", "picture": "", **userinfo})


def _cookies(request: gr.Request | None) -> dict:
    if request is None:
        return {}
    try:
        return dict(request.cookies or {})
    except AttributeError:
        return {}


class WorkspaceCookie:
    """ASGI middleware for anonymous mode: every browser gets a random workspace secret.

    A request without the cookie, or with a value this server did not issue (made up,
    malformed, over-long, signed by another key), gets a new secret, both on the request (so
    the handlers of this very request see it, and never the old value) and on the response. Each request marks its workspace as used,
    and every response renews the cookie: its Max-Age counts from the last visit, like the
    workspace's idle time, not from the first (a cookie sent once expired under an active
    user an idle-time after they arrived).
    """

    def __init__(self, app, workspaces: Workspaces, max_age_s: int):
        self.app = app
        self.workspaces = workspaces
        self.max_age_s = max_age_s

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or scope.get("path") in UNTRACKED:
            return await self.app(scope, receive, send)
        headers = list(scope.get("headers", []))
        token = _cookie_from_headers(headers)
        if not self.workspaces.issued(token):
            token = self.workspaces.new_token()
            scope = {**scope, "headers": _with_cookie(headers, f"{COOKIE}={token}".encode())}
        self.workspaces.touch(Workspaces.owner(token))
        secure = _is_https(scope)

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                attrs = f"Path=/; Max-Age={self.max_age_s}; HttpOnly; " + (
                    "SameSite=None; Secure" if secure else "SameSite=Lax"
                )
                extra = (b"set-cookie", f"{COOKIE}={token}; {attrs}".encode())
                message = {**message, "headers": [*message.get("headers", []), extra]}
            await send(message)

        return await self.app(scope, receive, send_with_cookie)


def _cookie_from_headers(headers) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                continue
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def _with_cookie(headers: list, pair: bytes) -> list:
    """The request's headers with our cookie set to `pair` alone: any value the client sent
    for it is taken out (of every Cookie header), the other cookies are kept."""
    name = COOKIE.encode() + b"="
    out, placed = [], False
    for key, value in headers:
        if key != b"cookie":
            out.append((key, value))
            continue
        kept = [c for c in value.split(b";") if c.strip() and not c.strip().startswith(name)]
        if not placed:
            kept.append(b" " + pair)
            placed = True
        out.append((key, b";".join(kept).strip()))
    return out if placed else [*out, (b"cookie", pair)]


def _is_https(scope) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    for key, value in scope.get("headers", []):
        if key == b"x-forwarded-proto" and value.split(b",")[0].strip() == b"https":
            return True
    return False
