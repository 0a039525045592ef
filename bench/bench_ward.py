"""A throw-away installation for the benchmarks: its own data folder, master key and database, a small ward, signed-in
viewers and the real server, all removed again at the end."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return f"{os.cpu_count()} cores, {model}, load average {load}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Installation:
    """A data folder made by `cradle init`; Django in this process is set up on it. Use as a context manager."""

    def __init__(self, prefix: str, database_url: str | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self._servers: list[subprocess.Popen] = []
        # PostgreSQL: a fresh database beside the one named (its name, "_bench_" and the folder's), dropped at the end.
        self._server_url = database_url
        self._database = None
        if database_url:
            self._database = f"{database_url.rsplit('/', 1)[1]}_bench_{self.dir.name.rsplit('-', 1)[-1].lower()}"

    def _admin(self, statement: str) -> None:
        import psycopg

        url = self._server_url.replace("postgres://", "postgresql://", 1)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)

    def __enter__(self) -> Installation:
        os.environ["CRADLE_DATA_DIR"] = str(self.dir)
        os.environ["DJANGO_SETTINGS_MODULE"] = "cradle.settings"
        for name in ("CRADLE_MASTER_KEY_FILE", "CRADLE_MEDIA_DIR", "DATABASE_URL", "CRADLE_SECRET_KEY"):
            os.environ.pop(name, None)
        if self._database:
            self._admin(f'CREATE DATABASE "{self._database}"')
            os.environ["DATABASE_URL"] = self._server_url.rsplit("/", 1)[0] + "/" + self._database
        subprocess.run([str(VENV_BIN / "cradle"), "init"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        import django

        django.setup()
        return self

    def __exit__(self, *exc) -> None:
        for server in self._servers:
            stop(server)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._database:
            from django.db import connections

            connections.close_all()
            self._admin(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')

    def serve(self, workers: int = 2, threads: int = 4) -> tuple[subprocess.Popen, int]:
        """`cradle serve` on a free port, as deployed (gunicorn, gthread, access log); returns once it answers."""
        port = free_port()
        log = open(self.dir / "serve.log", "ab")  # noqa: SIM115 - kept open for the server's lifetime
        server = subprocess.Popen(
            [
                str(VENV_BIN / "cradle"),
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        self._servers.append(server)
        wait_for(port, server)
        return server, port


def wait_for(port: int, server: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"The server exited with status {server.returncode} before it answered.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"Nothing answered on port {port} within {timeout:.0f} s.")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def worker_pids(server: subprocess.Popen) -> list[int]:
    """The gunicorn workers under a server (children of its arbiter)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@dataclass
class Ward:
    unit: object
    nurse: object
    camera: object
    admission: object


def ward(source_url: str = "sim://bench-bed") -> Ward:
    """One unit, one bed with a camera, one admitted baby."""
    from cradle.accounts.models import User
    from cradle.unit.models import Admission, Bed, Camera, StaffMembership, Unit

    unit = Unit.objects.create(name="Bench NICU", code="bench")
    nurse = User.objects.create(username="bench-nurse", display_name="Bench Nurse")
    StaffMembership.objects.create(user=nurse, unit=unit, role=StaffMembership.Role.NURSE)
    bed = Bed.objects.create(unit=unit, label="B1")
    camera = Camera.objects.create(bed=bed, source_url=source_url)
    admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse)
    return Ward(unit, nurse, camera, admission)


def viewers(admission, count: int) -> list[str]:
    """`count` family accounts of the admission, each signed in on one device; gives their session cookies.

    The Django session and the DeviceSession row are made as sign-in makes them, without the password and second
    factor steps, which are not what is measured here.
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from cradle.accounts.models import DeviceSession, User
    from cradle.unit.models import FamilyMembership, Unit

    # Without a second factor the unit's rule would refuse them every picture.
    Unit.objects.filter(pk=admission.unit_id).update(family_second_step=False)
    cookies = []
    for n in range(count):
        user = User(username=f"viewer-{n}", display_name=f"Viewer {n}")
        user.set_unusable_password()
        user.save()
        role = FamilyMembership.Role.PARENT if n < 2 else FamilyMembership.Role.RELATIVE
        FamilyMembership.objects.create(user=user, admission=admission, role=role)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        DeviceSession.objects.create(
            user=user, session_key=session.session_key, ip="127.0.0.1", idle_timeout_s=1800, lifetime_s=43200
        )
        cookies.append(session.session_key)
    return cookies
