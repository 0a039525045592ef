"""Fault: `cradle worker` through a PostgreSQL outage logged two tracebacks a second. It must ride the outage out,
log one line when it starts and one when it ends, and carry on by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults import Proxy, scratch_postgres

CRADLE = Path(sys.executable).with_name("cradle")


@pytest.mark.nodb
def test_the_worker_logs_an_outage_once_and_carries_on(tmp_path):
    proxy = Proxy(("127.0.0.1", 5432))
    log_path = tmp_path / "worker.log"
    try:
        with scratch_postgres() as database:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "REDIS_URL"))}
            env.update(
                CRADLE_DATA_DIR=str(tmp_path / "data"),
                DATABASE_URL=f"postgres://postgres@127.0.0.1:{proxy.port}/{database}",
                CRADLE_LOG_LEVEL="INFO",
            )
            subprocess.run([str(CRADLE), "init"], env=env, check=True, capture_output=True, timeout=300)
            with open(log_path, "w") as log:
                worker = subprocess.Popen([str(CRADLE), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
                try:
                    time.sleep(4)
                    proxy.cut()
                    time.sleep(6)  # six rounds of the worker's loop without a database
                    proxy.restore()
                    time.sleep(4)
                    assert worker.poll() is None, "the worker died in the outage"
                finally:
                    worker.terminate()
                    worker.wait(timeout=30)
    finally:
        proxy.close()
    text = log_path.read_text()
    assert "Traceback" not in text, text
    assert text.count("the database (camera leases) unavailable") == 1, text
    assert text.count("the database (camera leases) available again") == 1, text
