"""Redis at scale, for real: the cache (and with it the rate limits) and the background queue on RQ.

It uses the Redis on 127.0.0.1:6379 when there is one (database 14, keys of its own, removed afterwards), or
starts a private redis-server (Debian's, see deploy/debian-packages.txt) on a free port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.urls import reverse

from cradle import tasks
from cradle.forensics import jobs
from cradle.forensics.models import TraceJob

DB = 14
PREFIX = f"cradle-test-{os.getpid()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
        port, server = 6379, None
    except redis.ConnectionError:
        if shutil.which("redis-server") is None:
            pytest.fail("Redis is needed for these tests: install redis-server (scripts/install-debian-packages).")
        port = _free_port()
        folder = tmp_path_factory.mktemp("redis")
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                redis.Redis(host="127.0.0.1", port=port).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
    client = redis.Redis(host="127.0.0.1", port=port, db=DB)
    yield f"redis://127.0.0.1:{port}/{DB}"
    for key in [*client.scan_iter(f"{PREFIX}*"), *client.scan_iter("rq:*")]:
        client.delete(key)
    if server is not None:
        server.terminate()
        server.wait()


@pytest.fixture
def on_redis(settings, redis_url):
    """The settings Cradle takes with REDIS_URL (cradle/settings.py), with this run's own key prefix."""
    settings.CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": PREFIX}
    }
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": redis_url, "DEFAULT_TIMEOUT": 600}}
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def queue_worker(on_redis):
    """A `cradle queue` registered on Redis, as one that runs is."""
    import django_rq
    from rq.worker import SimpleWorker

    worker = django_rq.get_worker("default", worker_class=SimpleWorker, name=f"{PREFIX}-worker")
    worker.register_birth()
    yield worker
    worker.register_death()


@pytest.mark.django_db
def test_the_cache_and_the_login_rate_limits_live_in_redis(on_redis, world, client, queue_worker):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200, response.content
    assert response.json()["checks"]["cache"] == "ok" and response.json()["checks"]["queue"] == "ok"
    before = set(on_redis.scan_iter(f"{PREFIX}*"))
    client.post(reverse("account_login"), {"login": "nurse1", "password": "not the password"})
    # The failed sign-in was counted in Redis, where every web process sees it.
    assert set(on_redis.scan_iter(f"{PREFIX}*")) - before


@pytest.mark.django_db
def test_a_queued_trace_goes_through_redis_and_an_rq_worker_runs_it(on_redis, world, settings, tmp_path):
    import django_rq
    from rq.worker import SimpleWorker

    settings.DATA_DIR = tmp_path
    assert not tasks.in_database()
    queue = django_rq.get_queue("default")
    queue.empty()
    suspect = tmp_path / "suspect-0"
    suspect.write_bytes(b"this is not a video")
    job = TraceJob.objects.create(
        unit=world.unit1, created_by=world.users["privacy"], suspects=[{"name": "found.mp4", "path": str(suspect)}]
    )
    # What the upload page does once the job is saved.
    jobs.start_in_background()
    assert queue.count == 1
    worker = django_rq.get_worker("default", job_class="django_tasks_rq.Job", worker_class=SimpleWorker)
    assert worker.work(burst=True)
    job.refresh_from_db()
    # The job ran in the RQ worker: a file that is not a video ends as a failed trace with one sentence.
    assert job.status == TraceJob.Status.FAILED and "\n" not in job.error
    assert queue.count == 0


@pytest.mark.django_db
def test_readyz_names_a_queue_without_worker_but_keeps_serving(on_redis, world, client):
    from rq import Worker

    for worker in Worker.all(connection=on_redis):
        worker.register_death()
    response = client.get(reverse("readyz"))
    assert response.json()["checks"]["queue"] == "no_worker"
    assert response.status_code == 200  # families can watch while traces wait
