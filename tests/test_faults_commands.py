"""Fault: commands run before `cradle init`, or while the database is down, printed 70-90-line Python tracebacks
(`django.db.utils.OperationalError: no such table: ...`, "connection refused"). Each must answer with one line that
says what to do, and exit non-zero."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cradle.media.store import MasterKey
from tests.faults import Proxy, scratch_postgres

CRADLE = Path(sys.executable).with_name("cradle")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CRADLE), *args], env=env, capture_output=True, text=True, timeout=120)


def _env(data: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "REDIS_URL"))}
    env["CRADLE_DATA_DIR"] = str(data)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.mark.nodb
@pytest.mark.parametrize(
    "command",
    [
        ("trace", "/etc/hostname"),
        ("audit", "verify"),
        ("retention", "verify"),
        ("retention", "run"),
        ("backup", "{data}/b.backup"),
        ("serve", "--bind", "127.0.0.1:0"),
        ("worker",),
        ("queue",),
        ("adt",),
        ("demo", "--code", "nurse"),
    ],
)
def test_a_command_before_init_says_what_to_do_in_one_line(tmp_path, command):
    data = tmp_path / "data"
    line = _one_line(_run(_env(data), *[part.format(data=data) for part in command]))
    assert "cradle init" in line, line


@pytest.mark.nodb
@pytest.mark.parametrize("command", [("serve", "--bind", "127.0.0.1:0"), ("worker",), ("queue",), ("adt",)])
def test_a_long_running_command_refuses_an_empty_database_beside_a_master_key(tmp_path, command):
    """A master key copied onto a new machine, or restored before the database: the servers must not start and
    answer 503s, or retry for ever, over a database with no tables."""
    data = tmp_path / "data"
    data.mkdir()
    MasterKey.create(data / "master.key")
    line = _one_line(_run(_env(data), *command))
    assert "cradle init" in line, line


@pytest.mark.nodb
def test_a_database_older_than_the_code_asks_for_migrate(tmp_path):
    data = tmp_path / "data"
    env = _env(data)
    assert _run(env, "migrate", "accounts", "0001").returncode == 0
    line = _one_line(_run(env, "worker"))
    assert "cradle migrate" in line, line


@pytest.mark.nodb
def test_commands_while_postgresql_is_down_say_so_in_one_line(tmp_path):
    proxy = Proxy(("127.0.0.1", 5432))
    try:
        with scratch_postgres() as database:
            env = _env(tmp_path / "data", f"postgres://postgres@127.0.0.1:{proxy.port}/{database}")
            assert _run(env, "init").returncode == 0
            proxy.cut()
            for command in (("migrate",), ("audit", "verify"), ("backup", str(tmp_path / "b.backup"))):
                line = _one_line(_run(env, *command))
                assert "database cannot be reached" in line and "DATABASE_URL" in line, (command, line)
            proxy.restore()
            assert _run(env, "audit", "verify").returncode == 0
    finally:
        proxy.close()
