"""A real Ceph S3 gateway for the tests: scripts/s3-gateway started once, its keys read back, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "s3-gateway"
CEPH_TOOLS = ("ceph-mon", "ceph-osd", "radosgw", "ceph-authtool", "monmaptool", "ceph", "radosgw-admin")
READY_WITHIN_S = 120.0


@dataclass(frozen=True)
class Gateway:
    url: str  # CRADLE_STORAGE_URL for the gateway's bucket
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    pids: tuple[int, ...]  # ceph-mon, ceph-osd, radosgw
    start_s: float

    def storage_url(self, prefix: str) -> str:
        """The storage URL of a folder of its own in the bucket, so that tests sharing the gateway stay apart."""
        return f"s3://{self.bucket}/{prefix}?endpoint={self.endpoint}&region=default"


def missing_tools() -> str | None:
    """Why the gateway cannot start here, or None."""
    missing = [tool for tool in CEPH_TOOLS if shutil.which(tool) is None]
    if not missing:
        return None
    return (
        f"{', '.join(missing)} not found; run `make setup` (Debian's ceph-mon, ceph-osd, radosgw and ceph-common) "
        "to run the S3 tests."
    )


@contextmanager
def running_gateway(bucket: str = "cradle-test") -> Iterator[Gateway]:
    """Starts scripts/s3-gateway and stops it (and every daemon it started) on leaving."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.monotonic()
        # A session of its own, so that the daemons can be killed as one group if the script itself cannot stop them.
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--bucket", bucket],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
        values: dict[str, str] = {}
        done = threading.Event()

        def read() -> None:
            for line in process.stdout:
                name, _, value = line.strip().partition("=")
                values[name] = " ".join(shlex.split(value))
                if name == "S3_GATEWAY_READY":
                    break
            done.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            if not done.wait(READY_WITHIN_S) or "S3_GATEWAY_READY" not in values:
                errors.seek(0)
                raise RuntimeError(f"scripts/s3-gateway did not become ready: {errors.read().strip() or 'no output'}")
            endpoint = values["CRADLE_STORAGE_URL"].partition("endpoint=")[2].partition("&")[0]
            yield Gateway(
                url=values["CRADLE_STORAGE_URL"],
                endpoint=endpoint,
                bucket=bucket,
                access_key=values["AWS_ACCESS_KEY_ID"],
                secret_key=values["AWS_SECRET_ACCESS_KEY"],
                pids=tuple(int(pid) for pid in values["S3_GATEWAY_PIDS"].split()),
                start_s=time.monotonic() - started,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever the script could not stop
            process.wait()
