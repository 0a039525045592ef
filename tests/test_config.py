"""The configuration: every CRADLE_* variable is read in cradle/config.py alone, checked at start-up, documented."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cradle.config import ConfigError, CradleConfig, adt_settings, directory_settings, redact_max_bytes

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"\bCRADLE_[A-Z0-9_]*[A-Z0-9]\b")
# Names that look like variables but are not read from the environment: the service worker's shell (a script global).
NOT_VARIABLES = {"CRADLE_SHELL"}


def _names(text: str) -> set[str]:
    return set(NAME.findall(text)) - NOT_VARIABLES


def _code_names() -> dict[str, str]:
    """Every CRADLE_* name in the product's code, scripts and deployment files, with one file that uses it."""
    found: dict[str, str] = {}
    paths = [*(ROOT / "cradle").rglob("*.py"), *(ROOT / "scripts").iterdir(), *(ROOT / "deploy").rglob("*")]
    for path in paths:
        if path.is_file() and path.suffix not in {".png", ".mo", ".po", ".js", ".css"}:
            for name in _names(path.read_text(errors="replace")):
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def _declared() -> set[str]:
    source = (ROOT / "cradle" / "config.py").read_text()
    names = set(re.findall(r'"(CRADLE_[A-Z0-9_]+)"', source))
    # Secrets may also come from a file: NAME_FILE (Environment.secret).
    names |= {f"{m}_FILE" for m in re.findall(r'env\.secret\("(CRADLE_[A-Z0-9_]+)"\)', source)}
    return names


def _documented() -> set[str]:
    """The variables named in the first column of the README's configuration tables."""
    names: set[str] = set()
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `CRADLE_"):
            first = line.split("|")[1]
            names |= _names(first)
            # "`CRADLE_X` (or `_FILE`)": the secret may also come from a file.
            names |= {f"{n}_FILE" for n in re.findall(r"`(CRADLE_[A-Z0-9_]+)` \(or `_FILE`\)", first)}
    return names


def test_every_variable_used_in_code_is_declared_in_the_configuration():
    undeclared = {name: where for name, where in _code_names().items() if name not in _declared()}
    assert not undeclared, f"read or named in code but not declared in cradle/config.py: {undeclared}"


def test_every_declared_variable_is_in_the_readme_configuration_tables():
    assert sorted(_declared() - _documented()) == [], "declared but missing from the README's tables"


def test_the_readme_documents_no_variable_cradle_does_not_read():
    assert sorted(_documented() - _declared()) == []


def test_only_the_configuration_reads_cradle_variables_from_the_environment():
    reads = re.compile(r"(environ\b[^\n]*|getenv\([^\n]*)\"CRADLE_")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "cradle").rglob("*.py")
        if path.name != "config.py" and reads.search(path.read_text())
    ]
    assert not offenders


def test_defaults_without_any_variable():
    config = CradleConfig.from_environ({}, base_dir=ROOT / "cradle")
    assert config.data_dir == (ROOT / "var").resolve()
    assert config.master_key_file == config.data_dir / "master.key"
    assert config.shred_ledger_file == config.data_dir / "shred.ledger"
    assert (config.debug, config.https, config.fast_path) == (False, False, True)
    assert config.lease_seconds == 10.0 and config.audit_batch_seconds == 0.5
    assert config.edge_dir is None and config.edge_location == "/_edge/"


def test_values_are_typed():
    config = CradleConfig.from_environ(
        {
            "CRADLE_DATA_DIR": "/srv/cradle",
            "CRADLE_HTTPS": "Yes",
            "CRADLE_FAST_PATH": "off",
            "CRADLE_LEASE_SECONDS": " 2.5 ",
            "CRADLE_WORKER_CAMERAS": "4",
            "CRADLE_ALLOWED_HOSTS": "cradle.example.org, ,other.example.org",
            "CRADLE_EDGE_DIR": "/run/cradle/edge",
            "CRADLE_EDGE_LOCATION": "edge",
            "CRADLE_TIME_ZONE": "Asia/Shanghai",
            "CRADLE_LOG_LEVEL": "info",
        }
    )
    assert config.data_dir == Path("/srv/cradle") and config.media_dir == Path("/srv/cradle/media")
    assert config.https is True and config.fast_path is False
    assert config.lease_seconds == 2.5 and config.worker_cameras == 4
    assert config.allowed_hosts == ("cradle.example.org", "other.example.org")
    assert config.edge_dir == Path("/run/cradle/edge") and config.edge_location == "/edge/"
    assert config.time_zone == "Asia/Shanghai" and config.log_level == "INFO"
    assert adt_settings({"CRADLE_ADT_MAX_BYTES": "8192"})["MAX_BYTES"] == 8192
    assert directory_settings({"CRADLE_LDAP_STARTTLS": "1"})["LDAP_STARTTLS"] is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CRADLE_HTTPS", "ture", "CRADLE_HTTPS must be 1, 0, true, false, yes, no, on or off, not 'ture'."),
        ("CRADLE_DEBUG", "2", "CRADLE_DEBUG must be 1, 0, true, false, yes, no, on or off, not '2'."),
        ("CRADLE_FAST_PATH", "disabled", "CRADLE_FAST_PATH must be 1, 0, true, false, yes, no, on or off"),
        ("CRADLE_HSTS_SECONDS", "a year", "CRADLE_HSTS_SECONDS must be a whole number, not 'a year'."),
        ("CRADLE_HSTS_SECONDS", "-1", "CRADLE_HSTS_SECONDS must be at least 0, not -1."),
        ("CRADLE_LEASE_SECONDS", "0.1", "CRADLE_LEASE_SECONDS must be at least 1.0, not 0.1."),
        ("CRADLE_LEASE_SECONDS", "nan", "CRADLE_LEASE_SECONDS must be a finite number, not 'nan'."),
        ("CRADLE_WORKERS", "0", "CRADLE_WORKERS must be at least 1, not 0."),
        ("CRADLE_WORKER_CAMERAS", "2.5", "CRADLE_WORKER_CAMERAS must be a whole number, not '2.5'."),
        ("CRADLE_AUDIT_BATCH_SECONDS", "120", "CRADLE_AUDIT_BATCH_SECONDS must be at most 60.0, not 120.0."),
        ("CRADLE_AUDIT_RETENTION_YEARS", "0", "CRADLE_AUDIT_RETENTION_YEARS must be at least 1.0, not 0.0."),
        ("CRADLE_TIME_ZONE", "Mars/Olympus", "CRADLE_TIME_ZONE must name a time zone such as Europe/Berlin"),
        ("CRADLE_LOG_LEVEL", "LOUD", "CRADLE_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("CRADLE_SITE_URL", "cradle.example.org", "CRADLE_SITE_URL must start with https:// or http://"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_the_variable(variable, value, message):
    with pytest.raises(ConfigError) as raised:
        CradleConfig.from_environ({variable: value})
    text = str(raised.value)
    assert text.startswith(message) and "\n" not in text and text.endswith(".")


def test_bad_values_of_the_integrations_and_media_command():
    with pytest.raises(ConfigError, match=r"^CRADLE_ADT_MAX_BYTES must be a whole number, not '1 MiB'\.$"):
        adt_settings({"CRADLE_ADT_MAX_BYTES": "1 MiB"})
    with pytest.raises(ConfigError, match=r"^CRADLE_LDAP_STARTTLS must be 1, 0, true"):
        directory_settings({"CRADLE_LDAP_STARTTLS": "maybe"})
    with pytest.raises(ConfigError, match=r"^CRADLE_OIDC_CLIENT_SECRET_FILE names /nonexistent/secret, which cannot"):
        directory_settings({"CRADLE_OIDC_CLIENT_SECRET_FILE": "/nonexistent/secret"})
    with pytest.raises(ConfigError, match=r"^CRADLE_REDACT_MAX_BYTES must be at least 1, not 0\.$"):
        redact_max_bytes({"CRADLE_REDACT_MAX_BYTES": "0"})


def test_the_configuration_is_frozen_and_replaced_whole():
    config = CradleConfig.from_environ({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lease_seconds = 1.0  # type: ignore[misc]
    assert dataclasses.replace(config, lease_seconds=1.0).lease_seconds == 1.0
    assert "secret" not in repr(dataclasses.replace(config, secret_key="secret", metrics_token="secret"))


@pytest.mark.parametrize("command", [["check"], ["serve"], ["redact", "in.mp4", "out.mp4"]])
def test_a_command_started_with_a_bad_value_stops_with_one_line(tmp_path, command):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "DJANGO_"))}
    env.update(
        CRADLE_DATA_DIR=str(tmp_path),
        CRADLE_HTTPS="maybe",
        CRADLE_REDACT_MAX_BYTES="lots",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "cradle.cli", *command], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    variable = "CRADLE_REDACT_MAX_BYTES" if command[0] == "redact" else "CRADLE_HTTPS"
    assert done.stderr.startswith(f"cradle: {variable} must be ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
