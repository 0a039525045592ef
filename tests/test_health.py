"""Health, readiness and metrics: what the hospital's monitoring sees, and who may see the metrics."""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.urls import reverse
from prometheus_client import REGISTRY

from cradle.media.store import MasterKey
from cradle.viewing import storage


def fetches(action: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("cradle_media_fetches_total", {"action": action, "outcome": outcome}) or 0.0


def test_healthz_answers_without_the_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and response.content == b"ok"


@pytest.mark.nodb
def test_cradle_serve_starts_every_worker_ready_and_answers(tmp_path):
    """The server as deployed: gunicorn with Cradle's hooks, each worker loading the views before its first request."""
    MasterKey.create(tmp_path / "master.key")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL"))}
    env["CRADLE_DATA_DIR"] = str(tmp_path)
    cradle = Path(sys.executable).with_name("cradle")
    # As deployed: set up first (serve refuses an empty database).
    subprocess.run([str(cradle), "init"], env=env, check=True, capture_output=True, timeout=120)
    command = [str(cradle), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    answer = response.status, response.read()
            except OSError:
                time.sleep(0.2)
        assert answer == (200, b"ok")
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=30)
    ready = re.findall(r"Worker \d+ ready: views loaded, (\d+) objects kept out of collection", log)
    assert len(ready) == 2 and all(int(n) > 10_000 for n in ready), log
    assert "Traceback" not in log, log


@pytest.mark.django_db
def test_readyz_is_ready_when_every_check_passes(client):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {"database": "ok", "master_key": "ok", "storage": "ok", "cache": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_a_missing_master_key_makes_readyz_refuse_with_one_word_and_no_path(client, settings, tmp_path):
    settings.MASTER_KEY_FILE = tmp_path / "gone.key"
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["checks"]["master_key"] == "unusable"
    assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db
def test_unreachable_storage_and_cache_are_named(client, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.MEDIA_DIR = blocker / "media"
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    storage.forget()
    try:
        response = client.get(reverse("readyz"))
    finally:
        storage.forget()
    checks = response.json()["checks"]
    assert response.status_code == 503
    assert checks == {"database": "ok", "master_key": "ok", "storage": "unreachable", "cache": "unreachable"}


@pytest.mark.django_db
def test_metrics_are_for_this_machine_or_the_token_holder(client, settings):
    assert client.get(reverse("metrics")).status_code == 200
    # Through a proxy, or from another machine, the page does not exist without the token.
    assert client.get(reverse("metrics"), HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    assert client.get(reverse("metrics"), REMOTE_ADDR="10.1.2.3").status_code == 404
    settings.CRADLE = dataclasses.replace(settings.CRADLE, metrics_token="s3cret-token")
    assert client.get(reverse("metrics"), REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope").status_code == 404
    response = client.get(reverse("metrics"), REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200 and b"cradle_media_fetches_total" in response.content


@pytest.mark.django_db
def test_delivery_rates_count_allowed_and_refused_fetches_without_naming_anyone(world):
    fam = world.families["a"]
    fam.admission.nickname = "Little Mia"
    fam.admission.save()
    allowed, refused = fetches("live.playlist", "allowed"), fetches("live.segment", "refused")
    parent = world.client("parent_a")
    assert parent.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200
    assert parent.get(reverse("segment", args=["not-a-ticket"])).status_code == 404
    assert fetches("live.playlist", "allowed") == allowed + 1
    assert fetches("live.segment", "refused") == refused + 1
    body = world.client(None).get(reverse("metrics")).content.decode()
    assert "Little Mia" not in body and "parent_a" not in body and fam.admission.media_id not in body
    for name in ("cradle_camera_fps", "cradle_redaction_latency_seconds", "cradle_privacy_screen_seconds_total"):
        assert f"# TYPE {name}" in body
    assert "# TYPE cradle_trace_jobs_total counter" in body
