"""`cradle adt` as an operator runs it, on the demo's beds: a message in, an admission out, the log intact."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adt_feed import Sender, adt

CRADLE = Path(sys.executable).with_name("cradle")


@pytest.mark.nodb
def test_the_adt_command_admits_on_the_demo_beds_and_the_log_verifies(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "REDIS_URL"))}
    env["CRADLE_DATA_DIR"] = str(tmp_path / "data")
    demo = subprocess.run([str(CRADLE), "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=180)
    assert demo.returncode == 0 and "NICU^^1-8" in demo.stdout, demo.stderr
    listener = subprocess.Popen(
        [str(CRADLE), "adt", "--bind", "127.0.0.1:0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = listener.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line)[1])
        sender = Sender(("127.0.0.1", port))
        try:
            admitted = sender.send(adt("A01", "CMD1", location="NICU^^5"))
            assert admitted.code == "AA", admitted.text
            assert sender.send(adt("A03", "CMD2", location="NICU^^5", when="20261207080000")).code == "AA"
        finally:
            sender.close()
    finally:
        listener.send_signal(signal.SIGTERM)
        _out, err = listener.communicate(timeout=20)
    assert listener.returncode == 0 and "Traceback" not in err, err
    verified = subprocess.run([str(CRADLE), "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr
    with sqlite3.connect(tmp_path / "data" / "cradle.sqlite3") as db:
        bed, discharged = db.execute(
            "SELECT b.label, a.discharged_at FROM unit_admission a JOIN unit_bed b ON b.id = a.bed_id "
            "WHERE a.admitted_by_id IS NULL"
        ).fetchone()
        assert bed == "5" and discharged is not None
        via = db.execute(
            "SELECT detail FROM audit_event WHERE action = 'admission.created' ORDER BY seq DESC"
        ).fetchone()
        assert '"via": "adt"' in via[0] or '"via":"adt"' in via[0]
