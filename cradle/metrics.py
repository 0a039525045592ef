"""Prometheus metrics: camera frame rates, redaction latency, time on the privacy screen, deliveries, the fast path,
trace jobs.

Labels name cameras by their number and actions by their name, never a baby, a family or an account. With
`PROMETHEUS_MULTIPROC_DIR` set (the `cradle` commands set it to `$CRADLE_DATA_DIR/metrics` unless it is given), every
process writes its figures there: gunicorn's workers, the pipeline worker and the queue, and `/metrics` of any web
process reports them all. Without it, a process reports its own.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from cradle.audit.actions import Action

CAMERA_FPS = Gauge(
    "cradle_camera_fps",
    "Frames per second a camera's pipeline delivered over its last segment.",
    ["camera"],
    multiprocess_mode="mostrecent",
)
REDACTED_FPS = Gauge(
    "cradle_camera_redacted_fps",
    "Frames per second a camera redacts; below its frame rate when the worker is overloaded (the frames in between "
    "repeat the last safe one).",
    ["camera"],
    multiprocess_mode="mostrecent",
)
SEGMENTS_WRITTEN = Counter("cradle_segments_written_total", "Live segments sealed and stored.", ["camera"])
REDACTION_LATENCY = Histogram(
    "cradle_redaction_latency_seconds",
    "Time from a frame's arrival to its redacted (or screened) picture.",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
)
PRIVACY_SCREEN = Counter(
    "cradle_privacy_screen_seconds_total",
    "Seconds of a camera's picture replaced by the privacy screen (redaction behind, lost source, or a nurse's pause).",
    ["camera"],
)
WORKER_CAPACITY_LEFT = Gauge(
    "cradle_worker_cameras_over_capacity",
    "Cameras this worker would run by its share but leaves to other workers because it cannot redact them in time.",
    multiprocess_mode="livesum",
)
CAMERAS_WITHOUT_CAPACITY = Gauge(
    "cradle_cameras_without_capacity",
    "Cameras with a baby admitted that no worker runs while this worker is at its redaction capacity (shown as "
    "unavailable on the nurse's board).",
    multiprocess_mode="max",
)
CAMERAS_RUN = Gauge("cradle_worker_cameras", "Cameras this worker runs under its leases.", multiprocess_mode="livesum")
FETCHES = Counter(
    "cradle_media_fetches_total",
    "Playlist and segment requests, by action (live.segment, clip.playlist, ...) and outcome (allowed or refused).",
    ["action", "outcome"],
)
FAST_PATH = Counter(
    "cradle_fast_path_total",
    "Segment, live playlist and key fetches the fast path answered (served) or left to the full path, by why "
    "(no_grant, unseen_segment, revoked, ...).",
    ["kind", "outcome"],
)
TRACE_JOBS = Counter("cradle_trace_jobs_total", "Leak trace jobs finished, by outcome (done or failed).", ["outcome"])

MEDIA_ACTIONS = frozenset(
    {Action.LIVE_PLAYLIST, Action.LIVE_SEGMENT, Action.CLIP_PLAYLIST, Action.CLIP_SEGMENT, Action.CLIP_KEEPSAKE}
)


def shared_folder() -> Path | None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(folder) if folder else None


def registry() -> CollectorRegistry:
    """The registry to report: every process's figures from the shared folder, or this process's own."""
    if shared_folder() is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


def exposition() -> tuple[bytes, str]:
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def forget_dead_processes() -> None:
    """Drops the live gauges of processes that are gone (a killed worker's cameras must not look running)."""
    folder = shared_folder()
    if folder is None:
        return
    for path in folder.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(int(pid), str(folder))


def process_ended(pid: int | None = None) -> None:
    if shared_folder() is not None:
        multiprocess.mark_process_dead(pid or os.getpid())


def serve(bind: str) -> None:
    """Exposes the figures over HTTP on `bind` (host:port) from this process, for a worker on a machine of its own."""
    host, _, port = bind.rpartition(":")
    start_http_server(int(port), addr=host or "127.0.0.1", registry=registry())


def count_fetch(action: str, allowed: bool) -> None:
    if action in MEDIA_ACTIONS:
        FETCHES.labels(action, "allowed" if allowed else "refused").inc()
