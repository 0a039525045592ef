"""Start time and memory of the throw-away Ceph S3 gateway (scripts/s3-gateway), and segment writes and reads on it.

Each run starts the gateway as the tests do (tests/s3_gateway.py) and reads the memory of ceph-mon, ceph-osd and
radosgw once it answers: RSS per process, and the sum of their PSS, which counts the libraries they share once. It
then seals one camera's five-minute live buffer into it through SegmentStore (300 segments x variants A, B and ref,
60 KiB each, wrapped keys beside them in the bucket), reads every segment back, and reads the memory again: the
memstore OSD keeps every object in memory, so the second figure grows with what is stored. The gateway is stopped
and its folder removed after each run.

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


def memory_mb(pids: tuple[int, ...]) -> dict[str, float]:
    """Resident (RSS) memory of each process by command name, and the sum of their proportional sets (PSS), in MB.

    The three daemons share most of Ceph's libraries: RSS counts those pages once per process, PSS splits them.
    """
    sizes = {"pss": 0.0}
    for pid in pids:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        rollup = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
        sizes[name] = int(rollup["Rss"].split()[0]) * 1024 / 1e6
        sizes["pss"] += int(rollup["Pss"].split()[0]) * 1024 / 1e6
    return sizes


def one_run(segments: int, master: MasterKey) -> dict[str, float]:
    with running_gateway() as gateway:
        idle = memory_mb(gateway.pids)
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
        loaded = memory_mb(gateway.pids)
    objects = segments * 3
    return {
        "start_s": gateway.start_s,
        "idle_mb": sum(size for name, size in idle.items() if name != "pss"),
        "idle_pss_mb": idle["pss"],
        "loaded_mb": sum(size for name, size in loaded.items() if name != "pss"),
        "loaded_pss_mb": loaded["pss"],
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
    print(f"{'run':>4} {'start s':>8} {'idle RSS':>9} {'mon':>6} {'osd':>6} {'rgw':>6} {'idle PSS':>9} "
          f"{'loaded RSS':>11} {'loaded PSS':>11} {'put ms':>7} {'get ms':>7}   (memory in MB)")  # fmt: skip
    for number, run in enumerate(runs, 1):
        print(
            f"{number:>4} {run['start_s']:>8.1f} {run['idle_mb']:>9.1f} {run['idle_ceph-mon']:>6.1f} "
            f"{run['idle_ceph-osd']:>6.1f} {run['idle_radosgw']:>6.1f} {run['idle_pss_mb']:>9.1f} "
            f"{run['loaded_mb']:>11.1f} {run['loaded_pss_mb']:>11.1f} {run['put_ms']:>7.2f} {run['get_ms']:>7.2f}"
        )
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(
        f"median: ready in {median['start_s']:.1f} s; idle {median['idle_mb']:.0f} MB RSS "
        f"({median['idle_pss_mb']:.0f} MB PSS); with the live buffer stored {median['loaded_mb']:.0f} MB RSS "
        f"({median['loaded_pss_mb']:.0f} MB PSS); put {median['put_ms']:.2f} ms, "
        f"get {median['get_ms']:.2f} ms per segment"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
