"""Who owns data: the owner name of each sign-in mode, password accounts, anonymous workspaces.

Every store is keyed by an owner string, and that string always comes from the server side:
the local user, a password account checked by Gradio's login, a Hugging Face sign-in held in
the server's session, or a random workspace cookie the server issued. Each mode has its own
prefix, so a password account named "local" can never reach the local user's data.

Passwords are stored as scrypt hashes (standard library, memory-hard); the users file is
written atomically and readable by its owner only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from webapp.errors import WebappError
from webapp.files import atomic_write_json

PREFIX = {"password": "user:", "hf": "hf:", "anonymous": "anon:"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class NotSignedIn(WebappError):
    pass


class UserError(WebappError):
    pass


def owner_for(mode: str, name: str, local_user: str = "local") -> str:
    """The owner string of `name` in a sign-in mode (what the CLI's --user NAME acts as)."""
    if mode == "local":
        return name or local_user
    return PREFIX[mode] + name


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise UserError(
            "A user name is 1 to 64 letters, digits or . _ @ - and starts with a letter or digit."
        )
    return name


def check_password(password: str) -> str:
    if len(password) < 8:
        raise UserError("The password needs at least 8 characters.")
    return password


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, expected)


def parse_entries(text: str) -> dict[str, str]:
    """Accounts from WEBAPP_USERS: NAME:HASH entries separated by commas or whitespace (the
    hashes are what `webapp users hash NAME` prints; a plain password is refused)."""
    users = {}
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        name, _, stored = entry.partition(":")
        check_name(name)
        if not stored.startswith("scrypt$") or stored.count("$") != 2:
            raise UserError(
                f"WEBAPP_USERS: the entry for '{name}' is not NAME:HASH; make one with "
                "`webapp users hash NAME` (never put a plain password there)."
            )
        users[name] = stored
    return users


class UsersFile:
    """Password accounts: {"users": {name: scrypt hash}} in one JSON file, plus read-only
    accounts from the environment (WEBAPP_USERS), which win over the file's."""

    def __init__(self, path: Path, env_entries: str = ""):
        self.path = path
        self.fixed = parse_entries(env_entries)

    def _load(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8"))["users"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError("The users file is damaged; fix or recreate it.") from exc

    def _save(self, users: dict[str, str]) -> None:
        atomic_write_json(self.path, {"users": users}, mode=0o600, indent=1, sort_keys=True)

    def names(self) -> list[str]:
        return sorted({**self._load(), **self.fixed})

    def _check_writable(self, name: str) -> None:
        if name in self.fixed:
            raise UserError(f"'{name}' is set in WEBAPP_USERS; change it there.")

    def add(self, name: str, password: str) -> bool:
        """Create or change an account; True when it is new."""
        check_name(name)
        self._check_writable(name)
        check_password(password)
        users = self._load()
        new = name not in users
        users[name] = hash_password(password)
        self._save(users)
        return new

    def remove(self, name: str) -> None:
        self._check_writable(name)
        users = self._load()
        if users.pop(name, None) is None:
            raise UserError(f"There is no user '{name}'.")
        self._save(users)

    def verify(self, name: str, password: str) -> bool:
        stored = self.fixed.get(name) or self._load().get(name)
        if stored is None:
            verify_password(password, hash_password("timing"))  # same time for unknown names
            return False
        return verify_password(password, stored)


TOKEN = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}")  # 32 random bytes . 16 of MAC
SECRET_FILE = ".workspace_secret"


class Workspaces:
    """Anonymous mode: the workspace secrets this server issues, when each workspace was
    last used; idle ones are deleted with all data.

    A workspace secret is 32 random bytes signed with the server's key (HMAC-SHA256), so
    only the server can make one: a value a client made up (or one of another server) is
    never taken as a workspace, which would let whoever planted it in a victim's browser
    read what the victim uploads later (session fixation). The key is WEBAPP_SECRET_KEY, or
    a random one kept in STORAGE_DIR/.workspace_secret (readable by its owner only), so
    secrets outlive a restart.

    Last-use times are kept in memory and written to storage/workspaces.json at most every
    30 s, so a restart still expires workspaces of visitors who never come back.
    """

    def __init__(
        self,
        storage_dir: Path,
        idle_minutes: float,
        delete: Callable[[str], object],
        secret_key: str = "",
    ):
        self.path = storage_dir / "workspaces.json"
        self.idle_s = idle_minutes * 60
        self.delete = delete
        self._key = secret_key.encode() if secret_key else _stored_secret(storage_dir)
        self._lock = threading.Lock()
        self._seen = self._read()
        self._saved = 0.0

    def new_token(self) -> str:
        body = secrets.token_urlsafe(32)
        return f"{body}.{self._mac(body)}"

    def issued(self, token: str | None) -> bool:
        """Whether `token` is a workspace secret this server made (format and length are
        checked before anything else)."""
        if not token or len(token) != 66 or not TOKEN.fullmatch(token):
            return False
        body, mac = token.split(".")
        return hmac.compare_digest(mac, self._mac(body))

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    @staticmethod
    def well_formed(token: str | None) -> bool:
        return token is not None and len(token) == 66 and TOKEN.fullmatch(token) is not None

    @staticmethod
    def owner(token: str) -> str:
        """The workspace's owner: a hash of the secret cookie (the cookie itself is never
        stored or logged)."""
        return PREFIX["anonymous"] + hashlib.sha256(token.encode()).hexdigest()[:32]

    def _read(self) -> dict[str, float]:
        try:
            return {k: float(v) for k, v in json.loads(self.path.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def touch(self, owner: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._seen[owner] = now
            if now - self._saved > 30:
                self._write(now)

    def _write(self, now: float) -> None:
        atomic_write_json(self.path, self._seen)
        self._saved = now

    def reap(self, now: float | None = None) -> list[str]:
        """Delete every workspace idle longer than the limit; returns their owners."""
        now = time.time() if now is None else now
        with self._lock:
            idle = [o for o, seen in self._seen.items() if now - seen > self.idle_s]
        for owner in idle:
            self.delete(owner)
            with self._lock:
                if now - self._seen.get(owner, 0) > self.idle_s:  # not touched meanwhile
                    self._seen.pop(owner, None)
        if idle:
            with self._lock:
                self._write(now)
        return idle

    def start_reaper(self, every_s: float = 60.0) -> threading.Thread:
        def loop() -> None:
            while True:
                time.sleep(every_s)
                try:
                    self.reap()
                except Exception:  # a failed sweep is retried on the next one
                    import logging

                    logging.getLogger(__name__).exception("workspace cleanup failed")

        thread = threading.Thread(target=loop, name="workspace-reaper", daemon=True)
        thread.start()
        return thread


def _stored_secret(storage_dir: Path) -> bytes:
    """The signing key kept in the storage folder, made on first use (owner-only file)."""
    path = storage_dir / SECRET_FILE
    try:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
    except OSError:
        pass
    storage_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    tmp = path.with_name(f"{SECRET_FILE}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    try:
        os.link(tmp, path)  # first writer wins: two processes starting at once agree
    except FileExistsError:
        key = path.read_bytes().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return key
