"""Fault: `cradle queue` (RQ on Redis) through a database outage and a Redis outage.

It never recovered from a database outage: every later job failed with "the connection is closed" for as long as the
process lived (retention, daily clips), while /readyz said the queue was fine. A real `cradle queue` runs here against
a scratch PostgreSQL database and Redis, each behind a proxy the test cuts and restores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.faults import Proxy, scratch_postgres

CRADLE = Path(sys.executable).with_name("cradle")
REDIS_DB = 13
ENQUEUE = """
import sys, time, django
django.setup()
from cradle import tasks
result = tasks.apply_retention.enqueue()
deadline = time.monotonic() + float(sys.argv[1])
while not result.is_finished and time.monotonic() < deadline:
    time.sleep(0.2)
    result.refresh()
print(result.status)
"""


def _env(data: Path, database: str, pg_port: int, redis_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        CRADLE_DATA_DIR=str(data),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{pg_port}/{database}",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/{REDIS_DB}",
        DJANGO_SETTINGS_MODULE="cradle.settings",
        PROMETHEUS_MULTIPROC_DIR=str(data / "metrics"),
    )
    return env


def _job(env: dict[str, str], wait_s: float = 30) -> str:
    """Queues a retention run (it reads and writes the database) and gives its final status."""
    done = subprocess.run([sys.executable, "-c", ENQUEUE, str(wait_s)], env=env, capture_output=True, text=True,
                          timeout=wait_s + 60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(".")[-1]


@pytest.fixture
def queue_on_proxies(tmp_path):
    redis.Redis(db=REDIS_DB).flushdb()
    pg, rd = Proxy(("127.0.0.1", 5432)), Proxy(("127.0.0.1", 6379))
    with scratch_postgres() as database:
        env = _env(tmp_path / "data", database, pg.port, rd.port)
        (tmp_path / "data" / "metrics").mkdir(parents=True)
        subprocess.run([str(CRADLE), "init"], env=env, check=True, capture_output=True, timeout=300)
        log = open(tmp_path / "queue.log", "w+")  # noqa: SIM115 - read after the process ends
        queue = subprocess.Popen([str(CRADLE), "queue"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield env, pg, rd, queue, tmp_path / "queue.log"
        finally:
            queue.terminate()
            queue.wait(timeout=30)
            log.close()
            pg.close()
            rd.close()
            redis.Redis(db=REDIS_DB).flushdb()


@pytest.mark.nodb
def test_the_queue_runs_jobs_again_after_a_database_outage_and_logs_it_once(queue_on_proxies):
    env, pg, _rd, queue, log = queue_on_proxies
    assert _job(env) == "SUCCESSFUL"
    pg.cut()
    assert _job(env) == "FAILED"
    assert _job(env) == "FAILED"
    pg.restore()
    # The first job after the outage already finds the database.
    assert _job(env) == "SUCCESSFUL"
    assert _job(env) == "SUCCESSFUL"
    assert queue.poll() is None
    text = log.read_text()
    assert text.count("the database (background queue) unavailable") == 1, text
    assert text.count("the database (background queue) available again") == 1, text


@pytest.mark.nodb
def test_the_queue_survives_a_redis_outage(queue_on_proxies):
    env, _pg, rd, queue, _log = queue_on_proxies
    assert _job(env) == "SUCCESSFUL"
    rd.cut()
    time.sleep(3)
    rd.restore()
    assert _job(env, wait_s=60) == "SUCCESSFUL"
    assert queue.poll() is None
