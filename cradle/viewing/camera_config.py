"""A camera's settings as its pipeline runs them: the size and rate the unit delivers, and the redaction settings
file (shown area, zones) in CAMERA_CONFIG_DIR that the zone editor writes and a running camera watches."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from cradle.media.errors import MediaError
from cradle.media.live import LiveSettings, live_settings
from cradle.media.redact import CameraPolicy, load_policy
from cradle.unit.models import Camera

log = logging.getLogger("cradle.worker.camera_run")


WHOLE_PICTURE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def policy_path(camera_id: int) -> Path | None:
    """Where a camera's redaction settings live (CAMERA_CONFIG_DIR/<id>.json), or None without a folder."""
    folder = settings.CRADLE.camera_config_dir
    return Path(folder) / f"{camera_id}.json" if folder else None


def policy_stamp(camera_id: int) -> tuple[int, int] | None:
    """Changes whenever the camera's settings file does (written, replaced or removed)."""
    path = policy_path(camera_id)
    try:
        info = path.stat() if path is not None else None
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size) if info is not None else None


def run_config(camera: Camera) -> tuple:
    """What a running pipeline was started with: a change restarts it."""
    return (camera.source_url, camera.source_credentials, camera.width, camera.height, camera.fps)


def camera_policy(camera_id: int) -> CameraPolicy:
    """The camera's redaction settings from CAMERA_CONFIG_DIR, or the defaults when it has no file there.

    A file that cannot be read fails closed: the whole picture is masked (and the reason logged) rather than the
    camera running without the shown area someone set for it.
    """
    path = policy_path(camera_id)
    if path is None or not path.exists():
        return CameraPolicy()
    try:
        return load_policy(path)
    except MediaError as exc:
        log.error("camera %s: its configuration is unusable, so its whole picture is masked: %s", camera_id, exc)
        return CameraPolicy(zones=(WHOLE_PICTURE,))


def delivery(camera: Camera) -> LiveSettings:
    """The size and rate the unit delivers from a camera: what its administrator set, else what its address says
    (a simulated camera) or the defaults."""
    base = live_settings(camera.source_url)
    return LiveSettings(
        fps=float(camera.fps or base.fps), width=camera.width or base.width, height=camera.height or base.height
    )
