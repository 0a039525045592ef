"""Per-camera redaction settings, validated once when a camera starts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cradle.media.errors import MediaError

# A polygon in normalised coordinates: (x, y) pairs in [0, 1], relative to the frame's width and height.
Zone = tuple[tuple[float, float], ...]

MASK_STYLES = ("fill", "pixelate")


@dataclass(frozen=True, slots=True)
class CameraPolicy:
    """How one camera's frames are redacted."""

    zones: tuple[Zone, ...] = ()
    # The shown area (an allow-list, normally the incubator): one polygon in normalised coordinates; everything
    # outside it is masked on every frame whatever the detectors say. None shows the whole picture.
    shown_area: Zone | None = None
    faces: bool = False
    mask: str = "fill"
    # The whole frame is detected again every `detect_every` frames (the safety schedule), and a detection
    # vouches for a part of the picture for at most `max_age` (that plus hold_frames) frames. In between, only
    # cells that moved are detected again (see Redactor for what makes a detection valid). Every 4 s at 15 fps:
    # a change is looked at when it happens, so the schedule only guards against a change the motion grid missed,
    # and a whole look at native resolution is the largest cost of a quiet camera (bench/pipeline.py).
    detect_every: int = 60
    # The watchdog's budget: a frame not safely masked within `hold_frames` of arriving becomes the privacy screen.
    hold_frames: int = 8
    # A frame also takes the boxes of a scheduled whole-frame detection up to this many frames after it,
    # so text only the next detection finds is masked on the frames before it too; output waits that long.
    # None means 4 frames (half the default hold window, leaving the other half for the detection itself).
    lookahead_frames: int | None = None
    # Detected lines grow by this many pixels plus `margin_ratio` of their height on every side (along the line's
    # own tilt).
    margin_px: int = 3
    margin_ratio: float = 0.3
    # ... and by `end_ratio` of their height at both ends (a detector often stops a glyph short).
    end_ratio: float = 1.5
    # Pixelation block size in pixels (larger than any line of text, so nothing can be read back).
    block_px: int = 24
    # 0 detects text at the camera's own resolution, in tiles the detector takes without scaling, so the smallest
    # readable type is found on HD cameras too. A size scales the frame's longer side down to it first: cheaper,
    # but type under about 14 px (after scaling) is missed (see bench/redact_quality.py).
    detect_side: int = 0
    # The safety schedule's background look scales the frame's longer side down to this (0: as detect_side). It
    # guards only against a change the motion grid missed, every change is looked at natively where it happens, and
    # a native look at a 1280x720 frame costs about eight times one at 640 px (six tiles; bench/pipeline.py).
    refresh_side: int = 640
    # The independent text-likeness check (redact/likeness.py) on every crop the detector looks at: rows of
    # character-like marks the detector did not report are masked too.
    likeness: bool = True
    # Screen-like dark rectangles (a monitor) are masked whole on every frame (redact/monitors.py).
    monitors: bool = True
    # Share of a cell's thumbnail pixels (a cell is about 32 px square) that must change before the cell counts
    # as moved; the default counts any one.
    motion_share: float = 0.004
    # Grey levels (0-255, on the thumbnail) beyond the reference's neighbourhood that count as a change.
    motion_threshold: int = 30
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mask not in MASK_STYLES:
            raise MediaError(f"Mask style {self.mask!r} is unknown; use one of {', '.join(MASK_STYLES)}.")
        if not 1 <= self.detect_every <= 90:
            raise MediaError("detect_every must be between 1 and 90 frames; a longer safety schedule is too rare.")
        if self.lookahead_frames is not None and not 0 <= self.lookahead_frames <= self.hold_frames:
            raise MediaError("lookahead_frames must be between 0 and hold_frames, or every frame would be late.")
        if not 0 < self.motion_share <= 1 or not 1 <= self.motion_threshold <= 128:
            raise MediaError("motion_share must be in (0, 1] and motion_threshold between 1 and 128 grey levels.")
        if self.hold_frames > 300:
            raise MediaError("hold_frames above 300 would delay video by more than ten seconds; lower it.")
        if self.detect_side and self.detect_side < 320:
            raise MediaError("detect_side below 320 pixels loses small text; use 320 or more, or 0 for full size.")
        if self.refresh_side and self.refresh_side < 320:
            raise MediaError("refresh_side below 320 pixels loses small text; use 320 or more, or 0 for full size.")
        if self.block_px < 8:
            raise MediaError("block_px below 8 makes pixelated text readable; use 8 or more.")
        for zone in self.zones:
            if len(zone) < 3 or not all(0 <= x <= 1 and 0 <= y <= 1 for x, y in zone):
                raise MediaError("Each static zone needs at least three points with coordinates between 0 and 1.")
        area = self.shown_area
        if area is not None and (len(area) < 3 or not all(0 <= x <= 1 and 0 <= y <= 1 for x, y in area)):
            raise MediaError("The shown area needs at least three points with coordinates between 0 and 1.")

    @property
    def max_age(self) -> int:
        """Frames a detection may vouch for: the safety schedule plus the hold window, so that a refresh the pool
        refused or delivered late can be retried before the camera's frames are screened."""
        return self.detect_every + self.hold_frames

    @property
    def lookahead(self) -> int:
        """Frames after a frame whose scheduled whole-frame detection it waits for."""
        return min(4, self.hold_frames) if self.lookahead_frames is None else self.lookahead_frames


def load_policy(path: str | Path) -> CameraPolicy:
    """Read a camera configuration file (JSON: shown_area, zones, faces, mask, detect_every, hold_frames, ...).

    `shown_area` is one polygon, a list of [x, y] points with x and y in 0..1 (fractions of the frame's width and
    height, from the top left); `zones` is a list of such polygons.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MediaError(f"Camera configuration {path} does not exist.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MediaError(f"Camera configuration {path} is not readable JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise MediaError(f"Camera configuration {path} must be a JSON object.")
    known = set(CameraPolicy.__dataclass_fields__) - {"extra"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise MediaError(f"Camera configuration {path} has unknown keys: {', '.join(unknown)}.")
    try:
        zones = tuple(_polygon(zone) for zone in data.pop("zones", []))
        area = data.pop("shown_area", None)
        return CameraPolicy(zones=zones, shown_area=None if area is None else _polygon(area), **data)
    except MediaError as exc:
        raise MediaError(f"Camera configuration {path}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise MediaError(f"Camera configuration {path} has a malformed value ({exc}).") from exc


def _polygon(points) -> Zone:
    return tuple((float(x), float(y)) for x, y in points)
