"""Fault: the web process through a read-only database, a full disk and a PostgreSQL outage.

Seen before: /readyz said `database: ok` on a read-only database and `storage: ok` on a full disk; a SQLite connection
opened while the file was read-only stayed so for up to a minute (CONN_MAX_AGE), giving 500s for about 36 s after the
fault was fixed; pages and playlists answered 500 rather than 503. Here a real `cradle serve` runs bound by file modes
(as Cradle's service user is) on a small filesystem the test mounts.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.faults import Proxy, SmallDisk, scratch_postgres

CRADLE = Path(sys.executable).with_name("cradle")
# Root without the capabilities that override file modes: bound by them as Cradle's own service user is.
BOUND_BY_FILE_MODES = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    """A `cradle serve` and a browser-like client of it."""

    def __init__(self, env: dict[str, str], log: Path, bound: bool = True) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        prefix = BOUND_BY_FILE_MODES if bound else []
        command = [*prefix, str(CRADLE), "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "1"]
        self._out = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, env=env, stdout=self._out, stderr=subprocess.STDOUT)
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"cradle serve did not start: {log.read_text()}")

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def refused_playlist(self) -> int:
        """An anonymous player asking for a live playlist: refused with 404, the refusal audited (a write)."""
        return self.get("/babies/1/live.m3u8")[0]

    def ready(self) -> tuple[int, dict]:
        status, body = self.get("/readyz")
        return status, json.loads(body)["checks"]

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._out.close()
        return self.log.read_text()


def _env(data: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "REDIS_URL"))}
    # The small test filesystem counts as full below 8 MB free.
    env.update(CRADLE_DATA_DIR=str(data), HOME=str(data), CRADLE_MIN_FREE_MB="8", **more)
    return env


def _until(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


@pytest.fixture
def small_data(tmp_path):
    """A data folder on a 48 MB filesystem of its own, initialised with the demo ward."""
    disk = SmallDisk(tmp_path / "disk", 48)
    data = disk.path / "data"
    try:
        done = subprocess.run([str(CRADLE), "demo", "--no-serve"], env=_env(data), capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        yield disk, data
    finally:
        disk.unmount()


def _modes(data: Path, writable: bool) -> None:
    """The database file (and its journal files, if any) writable for Cradle, or read-only."""
    for path in [data / "cradle.sqlite3", data / "cradle.sqlite3-wal", data / "cradle.sqlite3-shm"]:
        if path.exists():
            path.chmod(0o600 if writable else 0o400)


@pytest.mark.nodb
def test_a_read_only_sqlite_database_is_a_503_named_by_readyz_and_recovery_is_at_once(small_data, tmp_path):
    _disk, data = small_data
    # The web process starts while the database is read-only, so its connections open read-only.
    _modes(data, writable=False)
    site = Site(_env(data), tmp_path / "serve.log")
    try:
        assert site.refused_playlist() == 503
        status, checks = site.ready()
        assert status == 503 and checks["database"] == "read_only"
        _modes(data, writable=True)
        # A connection that saw the fault is not kept: the first request after the fix is served.
        assert site.refused_playlist() == 404
        assert site.ready()[0] == 200
    finally:
        log = site.stop()
    assert "Traceback" not in log, log
    assert log.count("the database (web requests) unavailable") == 1, log
    assert log.count("the database (web requests) available again") == 1, log


@pytest.mark.nodb
def test_a_full_disk_is_named_by_readyz_and_writes_answer_503(small_data, tmp_path):
    disk, data = small_data
    env = _env(data)
    site = Site(env, tmp_path / "serve.log")
    try:
        assert site.ready() == (200, {"database": "ok", "master_key": "ok", "storage": "ok", "cache": "ok"})
        disk.fill()
        status, checks = site.ready()
        assert status == 503 and checks["storage"] == "full"
        assert site.refused_playlist() in (404, 503)  # a write that still fits is fine; one that does not is a 503
        disk.free()
        assert _until(lambda: site.ready()[0] == 200)
        assert site.refused_playlist() == 404
    finally:
        log = site.stop()
    assert "Traceback" not in log, log


@pytest.mark.nodb
def test_a_postgresql_outage_is_a_503_and_the_site_comes_back_by_itself(tmp_path):
    proxy = Proxy(("127.0.0.1", 5432))
    try:
        with scratch_postgres() as database:
            env = _env(tmp_path / "data", DATABASE_URL=f"postgres://postgres@127.0.0.1:{proxy.port}/{database}")
            subprocess.run([str(CRADLE), "demo", "--no-serve"], env=env, check=True, capture_output=True, timeout=300)
            site = Site(env, tmp_path / "serve.log", bound=False)
            try:
                assert site.refused_playlist() == 404
                join = site.get("/join/")
                assert join[0] == 200
                proxy.cut()
                for _ in range(5):
                    assert site.refused_playlist() == 503
                # A person typing an invitation code gets a page that says to try again, in one sentence.
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', join[1])[1]
                data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "code": "ABCD-EFGH-JKMN-PQRS"}).encode()
                request = urllib.request.Request(site.base + "/join/", data=data, headers={"Referer": site.base})
                with pytest.raises(urllib.error.HTTPError) as answer:
                    site.opener.open(request, timeout=10)
                assert answer.value.code == 503 and "briefly unavailable" in answer.value.read().decode()
                assert site.ready()[1]["database"] == "unreachable"
                proxy.restore()
                assert _until(lambda: site.refused_playlist() == 404, seconds=5)
            finally:
                log = site.stop()
    finally:
        proxy.close()
    assert "Traceback" not in log, log
    assert log.count("the database (web requests) unavailable") == 1, log
    assert log.count("the database (web requests) available again") == 1, log
