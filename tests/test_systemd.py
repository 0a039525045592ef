"""The systemd units in deploy/systemd: one per process, hardened, and accepted by `systemd-analyze verify`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands

UNITS = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
CRADLE = "/opt/cradle/.venv/bin/cradle"
HARDENING = {
    "User": "cradle",
    "Group": "cradle",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "StateDirectory": "cradle",
    "UMask": "0077",
    "CapabilityBoundingSet": "",
    "EnvironmentFile": "/etc/cradle/cradle.env",
}

pytestmark = pytest.mark.nodb


def parse(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and settings (a setting may repeat, as systemd allows)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{path.name}:{number}: not a setting: {raw!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_each_process_has_a_hardened_unit_that_runs_a_real_cradle_command():
    units = {p.name: parse(p) for p in sorted(UNITS.glob("*.service"))}
    assert set(units) == {"cradle-web.service", "cradle-worker.service", "cradle-queue.service"}
    commands = get_commands()
    for name, unit in units.items():
        assert set(unit) == {"Unit", "Service", "Install"}, name
        service = unit["Service"]
        for key, value in HARDENING.items():
            assert service.get(key) == [value], f"{name}: {key}"
        (start,) = service["ExecStart"]
        program, command, *_ = start.split()
        assert program == CRADLE and command in commands, f"{name}: {start}"
        assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert units["cradle-web.service"]["Service"]["ExecStart"][0].split()[1] == "serve"
    assert units["cradle-worker.service"]["Service"]["ExecStart"][0].split()[1] == "worker"


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    """Verified as installed, with the program and settings file moved to where this checkout has them; any
    complaint (systemd only warns about a bad value) fails the test."""
    if shutil.which("systemd-analyze") is None:
        reason = "systemd-analyze not found; run `make setup` (deploy/debian-packages.txt lists systemd)."
        if os.environ.get("CI"):
            pytest.fail(f"CI must verify the systemd units, but {reason}")
        pytest.skip(reason)
    cradle = Path(sys.executable).with_name("cradle")
    env = tmp_path / "cradle.env"
    env.write_text("")
    copies = []
    for unit in sorted(UNITS.glob("*.service")):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace(CRADLE, str(cradle)).replace("/etc/cradle/cradle.env", str(env)))
        copies.append(str(copy))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *copies], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stderr
