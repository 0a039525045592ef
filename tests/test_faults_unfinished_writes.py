"""Fault: a process killed (kill -9) while it writes a sealed object leaves its temporary file behind. Those files were
never cleaned, the store's listing skips dot-files, so shredding skipped them too: sealed, but they outlived their
admission (a wrapped data key among them, possibly). Shredding, the retention run and verify must all see them."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from cradle.media.store import TEMPORARY, LocalDisk
from cradle.retention import service
from cradle.viewing.storage import segment_store

WRITER = """
import os, sys, time
from cradle.media.store import LocalDisk
real_fsync = os.fsync
def stall(descriptor):
    real_fsync(descriptor)
    print("writing", flush=True)
    time.sleep(600)  # killed here, between the temporary file and its final name
os.fsync = stall
LocalDisk(sys.argv[1]).put(sys.argv[2], b"sealed bytes" * 1000)
"""


def _killed_mid_write(root, name: str) -> None:
    """A real process writing `name` into the store at `root`, killed with SIGKILL half-way."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), name], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)


def _leftovers(root) -> list[str]:
    return sorted(p.name for p in root.rglob(f"{TEMPORARY}*"))


def test_shredding_removes_writes_a_killed_process_left(world, fresh_storage):
    fam = world.families["a"]
    store = segment_store()
    store.admit(fam.admission.media_id)
    root = fresh_storage / "media"
    _killed_mid_write(root, f"{fam.admission.media_id}/{fam.bed.camera.pk}/000000000007.A")
    assert len(_leftovers(root)) == 1
    assert store.media_backend.list(f"{fam.admission.media_id}/") == [f"{fam.admission.media_id}/datakey.sealed"]
    service.shred(fam.admission, "test")
    assert _leftovers(root) == []


def test_verify_names_an_unfinished_write_of_an_unknown_admission_and_the_run_removes_it(world, fresh_storage):
    root = fresh_storage / "media"
    _killed_mid_write(root, "f00dbabe/1/000000000001.B")
    old = time.time() - 3600
    for path in root.rglob(f"{TEMPORARY}*"):
        os.utime(path, (old, old))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("retention", "verify", stdout=out, stderr=out)
    assert "unfinished write f00dbabe/1/" in out.getvalue()
    assert service.run()["unfinished_writes_removed"] == 1
    assert _leftovers(root) == []


def test_a_write_in_progress_is_left_alone_by_the_sweep(tmp_path):
    disk = LocalDisk(tmp_path)
    _killed_mid_write(tmp_path, "a1/1/000000000001.A")
    assert disk.sweep(older_than_s=60) == 0  # as young as a live write: not touched
    assert disk.sweep() == 1
