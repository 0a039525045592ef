"""Start time and memory of the throw-away Ceph S3 gateway (scripts/s3-gateway), and segment writes and reads on it.

Each run starts the gateway as the tests do (tests/s3_gateway.py), reads the resident memory (VmRSS) of ceph-mon,
ceph-osd and radosgw once it answers, then seals one camera's five-minute live buffer into it through SegmentStore
(300 segments x variants A, B and ref, 60 KiB each, wrapped keys beside them in the bucket) and reads every segment
back, and reads the memory again: the memstore OSD keeps every object in memory, so the second figure grows with what
is stored. The gateway is stopped and its folder removed after each run.

    .venv/bin/python bench/s3_gateway.py [--runs 3] [--segments 300]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' own way of starting the gateway, so that the figures are theirs

from cradle.media.s3 import S3Bucket  # noqa: E402
from cradle.media.store import MasterKey, SegmentStore  # noqa: E402
from tests.s3_gateway import missing_tools, running_gateway  # noqa: E402

SEGMENT_BYTES = 60 * 1024


def rss_mb(pids: tuple[int, ...]) -> dict[str, float]:
    """Resident memory of each process in MB (10^6 bytes), by command name."""
    sizes = {}
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        name = next(line.split()[1] for line in status.splitlines() if line.startswith("Name:"))
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        sizes[name] = kib * 1024 / 1e6
    return sizes


def one_run(segments: int, master: MasterKey) -> dict[str, float]:
    with running_gateway() as gateway:
        idle = rss_mb(gateway.pids)
        os.environ["AWS_ACCESS_KEY_ID"] = gateway.access_key
        os.environ["AWS_SECRET_ACCESS_KEY"] = gateway.secret_key
        store = SegmentStore(S3Bucket.from_url(gateway.storage_url("bench")), master)
        store.admit("adm-1")
        payload = secrets.token_bytes(SEGMENT_BYTES)
        started = time.perf_counter()
        for index in range(segments):
            for variant in ("A", "B", "ref"):
                store.put("adm-1", "cam-1", index, variant, payload)
        put_s = time.perf_counter() - started
        started = time.perf_counter()
        for index in range(segments):
            for variant in ("A", "B", "ref"):
                store.get("adm-1", "cam-1", index, variant)
        get_s = time.perf_counter() - started
        loaded = rss_mb(gateway.pids)
    objects = segments * 3
    return {
        "start_s": gateway.start_s,
        "idle_mb": sum(idle.values()),
        "loaded_mb": sum(loaded.values()),
        **{f"idle_{name}": size for name, size in idle.items()},
        "put_ms": put_s / objects * 1000,
        "get_ms": get_s / objects * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--segments", type=int, default=300)
    args = parser.parse_args()
    if reason := missing_tools():
        print(reason, file=sys.stderr)
        return 2
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    with tempfile.TemporaryDirectory() as folder:
        master = MasterKey.create(Path(folder) / "master.key")
        runs = [one_run(args.segments, master) for _ in range(args.runs)]
    print(f"{args.runs} runs, {args.segments} segments x 3 variants of {SEGMENT_BYTES // 1024} KiB per run")
    print(f"{'run':>4} {'start s':>8} {'idle MB':>8} {'mon':>6} {'osd':>6} {'rgw':>6} {'loaded MB':>10} "
          f"{'put ms':>7} {'get ms':>7}")  # fmt: skip
    for number, run in enumerate(runs, 1):
        print(
            f"{number:>4} {run['start_s']:>8.1f} {run['idle_mb']:>8.1f} {run['idle_ceph-mon']:>6.1f} "
            f"{run['idle_ceph-osd']:>6.1f} {run['idle_radosgw']:>6.1f} {run['loaded_mb']:>10.1f} "
            f"{run['put_ms']:>7.2f} {run['get_ms']:>7.2f}"
        )
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(
        f"median: ready in {median['start_s']:.1f} s, {median['idle_mb']:.0f} MB resident when idle, "
        f"{median['loaded_mb']:.0f} MB with the live buffer stored; put {median['put_ms']:.2f} ms, "
        f"get {median['get_ms']:.2f} ms per segment"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
