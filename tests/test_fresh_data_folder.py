"""Processes that start together on a fresh data folder (the web server and the worker under systemd, two workers)
share one secret key: the one that loses the race to create it reads the winner's, rather than stopping with
"File exists" as a second worker did."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cradle import settings as cradle_settings

pytestmark = pytest.mark.nodb


def test_a_process_that_loses_the_race_for_the_secret_key_reads_the_winners(tmp_path, monkeypatch):
    monkeypatch.delenv("CRADLE_SECRET_KEY", raising=False)
    monkeypatch.setattr(cradle_settings, "DATA_DIR", tmp_path)
    winner = tmp_path / "secret_key"
    winner.write_text("the-key-the-first-process-wrote\n")
    os.chmod(winner, 0o600)
    # This process looked a moment before the winner wrote it: the file was not there yet.
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self == winner else real_exists(self))
    assert cradle_settings._secret_key() == "the-key-the-first-process-wrote"
    assert not [p.name for p in tmp_path.iterdir() if p.name != "secret_key"]


def test_the_first_process_writes_a_private_key(tmp_path, monkeypatch):
    monkeypatch.delenv("CRADLE_SECRET_KEY", raising=False)
    monkeypatch.setattr(cradle_settings, "DATA_DIR", tmp_path)
    key = cradle_settings._secret_key()
    assert len(key) >= 50 and cradle_settings._secret_key() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
