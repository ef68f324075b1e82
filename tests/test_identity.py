"""Who owns what: password accounts, the owner of each sign-in mode, anonymous workspaces
(cookie, expiry), 'delete all my data', the chat rate limit, and the CLI's --user."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import gradio as gr
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import DEMO_DOCS, ROOT
from tests.files import write_jsonl
from webapp.adapters import datasets
from webapp.adapters.config import TrainConfig
from webapp.adapters.training import train
from webapp.chat.feedback import Feedback
from webapp.chat.ratelimit import RateLimited, RateLimiter
from webapp.config import Settings
from webapp.evaluation.qasets import QAItem, QASet
from webapp.ui.identity import COOKIE, WorkspaceCookie, owner_of
from webapp.users import NotSignedIn, UserError, UsersFile, Workspaces, hash_password


def test_passwords_are_stored_hashed_and_checked(tmp_path):
    users = UsersFile(tmp_path / "users.json")
    assert users.add("alice", "correct horse") is True
    assert users.add("alice", "battery staple") is False  # a new password for the same user
    raw = (tmp_path / "users.json").read_text()
    assert "battery" not in raw
    assert "scrypt$" in raw
    assert stat.S_IMODE(os.stat(tmp_path / "users.json").st_mode) == 0o600
    assert users.verify("alice", "battery staple")
    assert not users.verify("alice", "correct horse")
    assert not users.verify("mallory", "battery staple")
    with pytest.raises(UserError, match="8 characters"):
        users.add("bob", "short")
    with pytest.raises(UserError, match="user name"):
        users.add("../etc", "long enough password")
    assert users.names() == ["alice"]


def test_accounts_from_the_environment_are_hashed_and_read_only(tmp_path):
    """A Space has secrets, not a writable users file: WEBAPP_USERS holds NAME:HASH entries
    made by `webapp users hash NAME`, and they sign in next to the file's accounts."""
    made = _cli("users", "hash", "carol", stdin="carol's long password\n")
    assert made.returncode == 0, made.stderr
    entry = made.stdout.strip()
    assert entry.startswith("carol:scrypt$")
    assert "long password" not in entry
    other = _cli("users", "hash", "dave", stdin="dave's long password\n").stdout.strip()

    users = UsersFile(tmp_path / "users.json", f"{entry}, {other}")
    users.add("alice", "alice's password")
    assert users.names() == ["alice", "carol", "dave"]
    assert users.verify("carol", "carol's long password")
    assert users.verify("dave", "dave's long password")
    assert not users.verify("carol", "dave's long password")
    assert users.verify("alice", "alice's password")
    with pytest.raises(UserError, match="set in WEBAPP_USERS"):
        users.add("carol", "a new long password")
    with pytest.raises(UserError, match="set in WEBAPP_USERS"):
        users.remove("dave")
    with pytest.raises(UserError, match="never put a plain password"):
        UsersFile(tmp_path / "users.json", "eve:hunter22hunter22")
    short = _cli("users", "hash", "eve", stdin="short\n")
    assert short.returncode != 0
    assert "8 characters" in short.stderr


def _request(**kwargs) -> gr.Request:
    scope = {"type": "http", "headers": kwargs.pop("headers", []), **kwargs.pop("scope", {})}
    return gr.Request(request=Request(scope), **kwargs)


def test_each_sign_in_mode_has_its_own_owner_names(tmp_path):
    def settings(mode):
        return Settings(storage_dir=tmp_path, auth=mode)

    assert owner_of(_request(), settings("local")) == "local"
    assert owner_of(_request(username="local"), settings("password")) == "user:local"
    with pytest.raises(NotSignedIn):
        owner_of(_request(), settings("password"))
    signed = _request(scope={"session": {"oauth_info": {"userinfo": {"preferred_username": "al"}}}})
    assert owner_of(signed, settings("hf")) == "hf:al"
    expired = {"preferred_username": "al"}
    stale = _request(scope={"session": {"oauth_info": {"userinfo": expired, "expires_at": 1}}})
    with pytest.raises(NotSignedIn):  # an expired sign-in is signed out, as Gradio treats it
        owner_of(stale, settings("hf"))
    with pytest.raises(NotSignedIn):
        owner_of(_request(scope={"session": {}}), settings("hf"))
    token = Workspaces(tmp_path, 5, lambda owner: None).new_token()
    cookie = _request(headers=[(b"cookie", f"{COOKIE}={token}".encode())])
    owner = owner_of(cookie, settings("anonymous"))
    assert owner.startswith("anon:")
    assert token not in owner
    # The page-load id a browser sends is never an identity.
    with pytest.raises(NotSignedIn):
        owner_of(_request(session_hash="x" * 40), settings("anonymous"))


def test_workspace_cookie_is_kept_and_renewed_on_every_visit(tmp_path):
    seen = Workspaces(tmp_path, idle_minutes=5, delete=lambda owner: None)

    def whoami(request):
        return PlainTextResponse(Workspaces.owner(request.cookies[COOKIE]))

    app = Starlette(
        routes=[Route("/", whoami), Route("/health", lambda request: PlainTextResponse("ok"))],
        middleware=[Middleware(WorkspaceCookie, workspaces=seen, max_age_s=300)],
    )
    first, second = TestClient(app), TestClient(app)
    a1 = first.get("/")
    assert "HttpOnly" in a1.headers["set-cookie"]
    assert "SameSite=Lax" in a1.headers["set-cookie"]
    a2 = first.get("/")
    assert a1.text == a2.text
    # Renewed, same value: the cookie expires an idle time after the last visit, not the first.
    token = first.cookies[COOKIE]
    assert f"{COOKIE}={token}" in a2.headers["set-cookie"]
    assert "Max-Age=300" in a2.headers["set-cookie"]
    b = second.get("/")
    assert b.text != a1.text  # another browser, another workspace
    assert set(seen._seen) == {a1.text, b.text}
    probe = TestClient(app)
    for _ in range(3):  # a load balancer's health checks make no workspaces
        assert "set-cookie" not in probe.get("/health").headers
    assert set(seen._seen) == {a1.text, b.text}
    forged = TestClient(app).get("/", headers={"cookie": f"{COOKIE}=short"})
    assert forged.text not in (a1.text, b.text)  # a too-short value gets a fresh workspace


@pytest.mark.parametrize("value", ["B" * 40, "B" * 5000, "A" * 43 + "." + "B" * 22, "x;y"])
def test_a_workspace_cookie_the_server_did_not_issue_gets_a_new_empty_workspace(tmp_path, value):
    """Session fixation: a value planted in a victim's browser must never become the
    workspace the victim then fills, or whoever planted it could read it back."""
    seen = Workspaces(tmp_path, idle_minutes=5, delete=lambda owner: None)

    def whoami(request):
        return PlainTextResponse(Workspaces.owner(request.cookies[COOKIE]))

    app = Starlette(
        routes=[Route("/", whoami)],
        middleware=[Middleware(WorkspaceCookie, workspaces=seen, max_age_s=300)],
    )
    forged = {"cookie": f"theme=dark; {COOKIE}={value}"}
    victim, attacker = TestClient(app), TestClient(app)
    first = victim.get("/", headers=forged)
    issued = first.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert issued != value
    assert seen.issued(issued)
    assert first.text != Workspaces.owner(value)  # the planted value never is a workspace
    assert Workspaces.owner(value) not in seen._seen
    assert attacker.get("/", headers=forged).text not in (first.text, Workspaces.owner(value))
    # The victim's browser keeps the issued one from then on, and keeps its workspace.
    again = victim.get("/", headers={"cookie": f"{COOKIE}={issued}"})
    assert again.text == first.text
    # Another server (another key) did not issue it: here it is a stranger's value too.
    other = Workspaces(tmp_path / "other", idle_minutes=5, delete=lambda owner: None)
    assert not other.issued(issued)


def test_the_workspace_signing_key_outlives_a_restart_and_can_be_set(tmp_path):
    token = Workspaces(tmp_path, 5, lambda owner: None).new_token()
    assert Workspaces(tmp_path, 5, lambda owner: None).issued(token)  # same storage folder
    key = tmp_path / ".workspace_secret"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    shared = Workspaces(tmp_path / "a", 5, lambda o: None, secret_key="k" * 40).new_token()
    assert Workspaces(tmp_path / "b", 5, lambda o: None, secret_key="k" * 40).issued(shared)
    assert not Workspaces(tmp_path, 5, lambda owner: None).issued(shared)


@pytest.mark.slow
def test_idle_workspaces_are_deleted_with_all_their_data(make_services, tmp_path):
    services = make_services(auth="anonymous", anonymous_idle_minutes=1)
    idle, active = Workspaces.owner("a" * 40), Workspaces.owner("b" * 40)
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"question": "Who?", "answer": "Me."}])
    for owner in (idle, active):
        assert services.knowledge.ingest(owner, DEMO_DOCS[0], DEMO_DOCS[0].name).ok
        services.qasets.save(owner, QASet("mine", [QAItem("q?", "a")]))
        services.evals.save(owner, {"run_id": "20260101-000000-abcdef", "configs": []})
        train(
            TrainConfig(name="mine", epochs=1),
            datasets.load_file(rows),
            services.base_model_path(),
            "base",
            services.adapters.folder(owner, "mine"),
        )
    workspaces = services.workspaces
    workspaces.touch(idle, now=1000.0)
    workspaces.touch(active, now=1050.0)
    assert workspaces.reap(now=1100.0) == [idle]
    assert services.knowledge.list_documents(idle) == []
    assert services.qasets.list(idle) == []
    assert services.evals.list(idle) == []
    assert services.adapters.list(idle) == []
    assert not services.adapters.folder(idle, "mine").exists()
    assert len(services.knowledge.list_documents(active)) == 1
    assert services.qasets.list(active) == ["mine"]
    assert len(services.evals.list(active)) == 1
    assert [a.name for a in services.adapters.list(active)] == ["mine"]
    uploads = services.settings.storage_dir / "uploads"
    assert len([p for p in uploads.iterdir() if any(p.iterdir())]) == 1
    # The last-use times survive a restart, so a visitor who never returns is still removed.
    saved = json.loads((services.settings.storage_dir / "workspaces.json").read_text())
    assert list(saved) == [active]


@pytest.mark.slow
def test_delete_all_my_data_leaves_other_users_alone(make_services):
    services = make_services()
    for owner in ("alice", "bob"):
        for path in DEMO_DOCS:
            assert services.knowledge.ingest(owner, path, path.name).ok
        services.qasets.save(owner, QASet("set", [QAItem("q?", "a")]))
        services.evals.save(owner, {"run_id": "20260101-000000-abcdef", "configs": []})
        services.feedback.add(owner, Feedback("q?", "a", "up"))
    removed = services.accounts.delete("alice")
    assert removed == {
        "documents": 2,
        "adapters": 0,
        "evaluations": 1,
        "question_sets": 1,
        "feedback": 1,
    }
    assert services.feedback.list("alice") == []
    assert len(services.feedback.list("bob")) == 1
    assert services.knowledge.list_documents("alice") == []
    assert services.evals.list("alice") == []
    assert services.qasets.list("alice") == []
    assert len(services.knowledge.list_documents("bob")) == 2
    assert len(services.evals.list("bob")) == 1
    assert services.qasets.list("bob") == ["set"]
    # Alice can start again from nothing.
    assert services.knowledge.ingest("alice", DEMO_DOCS[0], DEMO_DOCS[0].name).status == "indexed"


def test_chat_rate_limit_counts_per_user_per_minute():
    limit = RateLimiter(per_minute=3)
    for t in (0, 1, 2):
        limit.check("alice", now=t)
    limit.check("bob", now=2)  # another user is not slowed down
    with pytest.raises(RateLimited, match="wait 58 s"):
        limit.check("alice", now=2.5)
    limit.check("alice", now=60.5)  # the first question left the window


def _cli(*args, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "webapp", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=180,
    )


@pytest.mark.slow
def test_cli_acts_for_a_named_user(isolated_storage):
    password = {"WEBAPP_AUTH": "password"}
    added = _cli("users", "add", "alice", stdin="a long password\n", env=password)
    assert added.returncode == 0, added.stderr
    assert "a long password" not in (isolated_storage / "users.json").read_text()
    ingest = _cli("ingest", "--user", "alice", str(DEMO_DOCS[0]), env=password)
    assert ingest.returncode == 0, ingest.stderr
    mine = _cli("docs", "list", "--json", "--user", "alice", env=password)
    assert [d["file"] for d in json.loads(mine.stdout)] == [DEMO_DOCS[0].name]
    assert json.loads(_cli("docs", "list", "--json").stdout) == []  # the local user's
    rows = write_jsonl(
        isolated_storage.parent / "rows.jsonl", [{"question": "Who?", "answer": "Me."}]
    )
    trained = _cli(
        "train",
        "--user",
        "alice",
        "--data",
        str(rows),
        "--name",
        "mine",
        "--epochs",
        "1",
        env=password,
    )
    assert trained.returncode == 0, trained.stderr
    evaluated = _cli(
        "eval",
        "--user",
        "alice",
        "--data",
        str(rows),
        "--configs",
        "base,adapter:mine",
        env=password,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    for command in (("adapters", "list", "--json"), ("evals", "list", "--json")):
        assert len(json.loads(_cli(*command, "--user", "alice", env=password).stdout)) == 1
        assert json.loads(_cli(*command).stdout) == []  # nothing of Alice's is the local user's
    unknown = _cli("docs", "list", "--user", "mallory", env=password)
    assert unknown.returncode == 2
    assert "no user 'mallory'" in unknown.stderr
    refused = _cli("delete-data", "--user", "alice", env=password)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    gone = _cli("delete-data", "--user", "alice", "--yes", env=password)
    assert gone.returncode == 0
    assert "1 documents" in gone.stdout
    assert "1 adapters" in gone.stdout
    assert json.loads(_cli("docs", "list", "--json", "--user", "alice", env=password).stdout) == []


def test_sign_in_modes_configure_the_server(make_services):
    from webapp.errors import WebappError
    from webapp.ui.app import build_app, launch_options

    password = make_services(auth="password")
    with pytest.raises(WebappError, match="webapp users add"):
        launch_options(password)  # no accounts yet: refuse to start rather than lock all out
    entry = "bob:" + hash_password("bob's long password")
    from_env = launch_options(make_services(auth="password", users=entry))
    assert from_env["auth"]("bob", "bob's long password")  # no file needed on a Space
    password.users.add("alice", "a long password")
    options = launch_options(password)
    assert options["auth"]("alice", "a long password")
    assert not options["auth"]("alice", "wrong password")
    assert options["show_error"] is False  # public: no tracebacks
    assert launch_options(make_services())["show_error"] is True  # local owner sees errors

    anonymous = launch_options(make_services(auth="anonymous"))
    [cookie] = anonymous["app_kwargs"]["middleware"]
    assert cookie.cls is WorkspaceCookie

    if "SPACE_ID" not in os.environ and "HF_TOKEN" not in os.environ:
        with pytest.raises(WebappError, match="works on a Space"):
            build_app(make_services(auth="hf"))  # off a Space: a clear message, no crash
