"""Attack: a local user of the server copies Cradle's SQLite database (or its journal, or the metrics files), takes a
nurse's session key from it and opens the ward board.

Under `cradle demo` and a manual `cradle serve` the database, its WAL and the metrics files were created 0644 (only
the systemd units set a umask). Whatever umask Cradle is started with, everything it writes under the data folder must
be for its own user alone: files 0600, folders 0700.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CRADLE = Path(sys.executable).with_name("cradle")


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "PROMETHEUS_"))}
    env["CRADLE_DATA_DIR"] = str(data)
    return env


def _open_umask() -> None:
    os.umask(0o022)


def _run(data: Path, *args: str) -> None:
    subprocess.run(
        [str(CRADLE), *args], env=_env(data), preexec_fn=_open_umask, check=True, capture_output=True, timeout=120
    )


def _serve_briefly(data: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(CRADLE), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=_env(data),
        preexec_fn=_open_umask,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, answered = time.monotonic() + 60, False
        while not answered and time.monotonic() < deadline and server.poll() is None:
            try:
                for page in ("readyz", "accounts/login/"):
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{page}", timeout=5) as response:
                        response.read()
                answered = True
            except OSError:
                time.sleep(0.2)
        assert answered
    finally:
        server.terminate()
        server.wait(timeout=30)


def _readable_by_others(data: Path) -> list[str]:
    """What others may read or list, but for the static files (the stylesheet and scripts every visitor gets)."""
    found = []
    for path in [data, *data.rglob("*")]:
        if path.relative_to(data).parts[:1] == ("static",):
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{oct(mode)} {path.relative_to(data)}")
    return found


@pytest.mark.nodb
def test_demo_and_a_manual_serve_under_an_open_umask_leave_nothing_readable_by_others(tmp_path):
    data = tmp_path / "data"
    _run(data, "demo", "--no-serve")
    _serve_briefly(data)
    assert (data / "cradle.sqlite3").exists() and any((data / "metrics").iterdir())
    assert _readable_by_others(data) == []


@pytest.mark.nodb
def test_a_data_folder_left_open_by_an_older_install_is_closed_at_the_next_start(tmp_path):
    data = tmp_path / "data"
    _run(data, "init")
    for name in ("cradle.sqlite3", "cradle.sqlite3-wal"):
        (data / name).touch()
        (data / name).chmod(0o644)
    _run(data, "init")
    assert _readable_by_others(data) == []


@pytest.mark.nodb
def test_collected_static_files_stay_readable_for_nginx(tmp_path):
    data = tmp_path / "data"
    _run(data, "collectstatic", "--noinput")
    stylesheets = list((data / "static").rglob("*.css"))
    assert stylesheets and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in stylesheets)
    assert stat.S_IMODE((data / "static").stat().st_mode) == 0o755
