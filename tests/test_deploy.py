"""The team deployment files name only settings the app reads, and wire replicas to the
shared servers (docker-compose.yml cannot run on this machine; this checks what it says)."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT
from webapp.config import Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = {f"WEBAPP_{name.upper()}" for name in Settings.model_fields}


def app_services() -> dict[str, dict]:
    return {n: s for n, s in COMPOSE["services"].items() if n.startswith("app")}


def test_every_webapp_setting_in_the_compose_file_exists():
    named = {
        key
        for service in COMPOSE["services"].values()
        for key in (service.get("environment") or {})
        if key.startswith("WEBAPP_")
    }
    assert named, named - SETTINGS
    assert named <= SETTINGS, named - SETTINGS


def test_replicas_share_chroma_and_the_model_servers_but_not_their_storage():
    apps = app_services()
    assert len(apps) >= 2
    envs = [s["environment"] for s in apps.values()]
    for env in envs:
        assert env["WEBAPP_CHROMA_URL"].startswith("http://chroma:")
        assert env["WEBAPP_LLM_BASE_URL"].startswith("http://vllm:")
        assert env["WEBAPP_EMBED_BASE_URL"].startswith("http://tei:")
        assert env["WEBAPP_AUTH"] != "local"  # a shared server needs sign-in
    volumes = [tuple(v for v in s["volumes"] if v.endswith(":/data")) for s in apps.values()]
    assert len(set(volumes)) == len(volumes)  # one storage folder (and lock) per replica
    assert {"chroma", "tei", "vllm", "balancer"} <= set(COMPOSE["services"])


def test_the_balancer_keeps_sessions_sticky_and_streams():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "ip_hash;" in conf
    assert "proxy_buffering off;" in conf
    for name in app_services():
        assert f"server {name}:7860;" in conf
