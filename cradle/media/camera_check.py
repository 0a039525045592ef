"""Checking a camera before it goes live: connect, take one picture, redact it as the pipeline would, and give back
only the redacted picture, with what was masked outlined, never the raw frame."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from cradle.media.camera_url import describe_failure
from cradle.media.conform import fit
from cradle.media.frames import Frame, SafeFrame
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.source import Picture, pyav_pictures, sim_pictures
from cradle.media.still import jpeg

# Masked areas are outlined in this colour (BGR) so the one checking sees what the redaction found.
OUTLINE = (0, 215, 255)
# A check waits this long for the detectors (the first look loads them); past it the picture is screened.
CHECK_DEADLINE_S = 30.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    # One sentence when the camera could not be read (no credentials in it).
    failure: str = ""
    # The redacted picture, masked areas outlined, as JPEG; None when there is no picture.
    picture: bytes | None = None
    # What the camera sends, before scaling, and how many separate areas were masked.
    camera_size: tuple[int, int] | None = None
    masked_areas: int = 0
    screened: bool = False


def first_picture(pictures: Iterable[Picture], timeout_s: float) -> Picture | None:
    """The first decoded picture, or None when none comes within `timeout_s` (the read runs in a thread of its own:
    a camera that accepts the connection and then sends nothing must not hold the administrator's page)."""
    found: list[Picture | BaseException] = []

    def read() -> None:
        try:
            for picture in pictures:
                found.append(picture)
                return
        except BaseException as e:  # handed back to the caller
            found.append(e)

    reader = threading.Thread(target=read, name="camera check", daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not found:
        return None
    if isinstance(found[0], BaseException):
        raise found[0]
    return found[0]


def outlined(frame: SafeFrame) -> tuple[np.ndarray, int]:
    """The redacted picture with each masked area outlined, and the number of areas."""
    image = frame.image.copy()
    if frame.covered is None or not frame.covered.any():
        return image, 0
    contours, _ = cv2.findContours(frame.covered.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(image, contours, -1, OUTLINE, 2)
    return image, len(contours)


def check_camera(
    url: str,
    policy: CameraPolicy,
    pool: DetectorPool,
    width: int,
    height: int,
    *,
    opener: Callable[[str], Iterable[Picture]] | None = None,
    timeout_s: float = 8.0,
) -> CheckResult:
    """Connects to `url`, redacts its first picture at the delivered size (`width` x `height`) and gives it back
    outlined, or why it could not."""
    if opener is None:
        opener = sim_pictures if url.startswith("sim://") else pyav_pictures
    try:
        picture = first_picture(opener(url), timeout_s)
    except Exception as e:
        return CheckResult(False, describe_failure(e, url))
    if picture is None:
        return CheckResult(False, describe_failure(TimeoutError("timed out"), url))
    raw, _, _ = picture
    camera_size = (raw.shape[1], raw.shape[0])
    image = fit(raw, width, height)
    del raw
    # Blocking: every detection is waited for, as in `cradle redact`; the live watchdog is about delay, not safety.
    redactor = Redactor(policy, pool, deadline_s=CHECK_DEADLINE_S, blocking=True)
    frames = redactor.push(Frame(image, 0, 0, Fraction(1, 90000), time.monotonic()))
    frames += redactor.flush()
    safe = frames[-1]
    shown, areas = outlined(safe)
    return CheckResult(True, picture=jpeg(shown, width=width), camera_size=camera_size, masked_areas=areas,
                       screened=safe.screened)  # fmt: skip
