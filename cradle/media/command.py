"""`cradle redact INPUT OUTPUT [--camera-config FILE]`: redact a video file into an H.264 MP4."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from cradle.config import redact_max_bytes
from cradle.media.encode import Mp4Writer
from cradle.media.errors import MediaError
from cradle.media.frames import Frame, SafeFrame
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor, load_policy
from cradle.media.redact.pool import WardDetectors, default_detectors
from cradle.media.source import to_bgr

# Anything beyond these is a mistake or an attack, not NICU footage.
MAX_BYTES = redact_max_bytes()
MAX_SIDE = 8192
# No frame larger than 4K is decoded, in the probe of the file either: the decoder refuses to allocate past it, so a
# tiny file that declares a huge picture costs no memory (the same bound as `cradle trace`, in
# cradle.forensics.tracing, which the media core does not import).
MAX_PIXELS = 3840 * 2160
MAX_SECONDS = 24 * 3600
# A file has no live viewer waiting, so a detection may take this long before its frames are screened.
FILE_DEADLINE_S = 60.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cradle redact", description="Redact PHI from a video file.")
    parser.add_argument("input", help="any video PyAV can read")
    parser.add_argument("output", help="where to write the redacted H.264 MP4")
    parser.add_argument(
        "--camera-config", help="JSON camera configuration (shown area, static zones, faces, mask style, ...)"
    )
    parser.add_argument(
        "--report", action="store_true", help="print the clip's figures: masked share, screened frames, detections"
    )
    return parser


def main(argv: list[str]) -> int:
    """Run `cradle redact`; argv[0] is "redact". Returns the exit status."""
    args = _parser().parse_args(argv[1:])
    try:
        policy = load_policy(args.camera_config) if args.camera_config else CameraPolicy()
        result = redact_file(Path(args.input), Path(args.output), policy)
    except MediaError as exc:
        print(f"cradle redact: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cradle redact: interrupted; no output was written.", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for a person, never a traceback
        detail = " ".join(str(exc).split()) or type(exc).__name__
        print(f"cradle redact: failed: {detail}", file=sys.stderr)
        return 1
    if result.screened:
        print(
            f"cradle redact: {result.screened} of {result.frames} frames show the privacy screen because "
            "detection failed for them.",
            file=sys.stderr,
        )
    if args.report:
        print(result.report(args.input, policy))
    return 0


class RedactResult:
    """Counts from one redaction run."""

    def __init__(
        self,
        frames: int,
        screened: int,
        masked: float = 0.0,
        most_masked: float = 0.0,
        detections: int = 0,
        crops: int = 0,
        size: tuple[int, int] = (0, 0),
    ) -> None:
        self.frames, self.screened = frames, screened
        self.masked, self.most_masked = masked, most_masked  # mean and largest share of a frame's pixels masked
        self.detections, self.crops = detections, crops
        self.size = size

    def report(self, name: str, policy: CameraPolicy) -> str:
        """One line of figures for a person: what was masked, screened and looked at."""
        area = "shown area set" if policy.shown_area else "whole picture shown"
        return (
            f"{name}: {self.frames} frames {self.size[0]}x{self.size[1]}; masked {100 * self.masked:.1f} % of "
            f"pixels on average (at most {100 * self.most_masked:.1f} % of a frame); {self.screened} frames "
            f"screened; {self.detections} detections ({self.crops} on changed regions); {area}"
        )


def _check_input(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path} does not exist.")
    if not path.is_file():
        raise MediaError(f"{path} is not a regular file.")
    size = path.stat().st_size
    if size == 0:
        raise MediaError(f"{path} is empty (0 bytes); nothing to redact.")
    if size > MAX_BYTES:
        raise MediaError(
            f"{path} is {size / 2**30:.0f} GiB, over the {MAX_BYTES / 2**30:.0f} GiB limit; split it first."
        )


def redact_file(
    source: Path, target: Path, policy: CameraPolicy, detectors: Callable[[], WardDetectors] | None = None
) -> RedactResult:
    """Redact `source` into `target`; `target` appears only when complete."""
    import av

    _check_input(source)
    if not target.parent.is_dir():
        raise MediaError(f"The folder for {target} does not exist.")
    if target.exists() and target.resolve() == source.resolve():
        raise MediaError("OUTPUT must differ from INPUT; the original is needed until redaction succeeds.")
    limit = {"max_pixels": str(MAX_PIXELS)}
    try:
        # The probe decodes a first frame to learn the picture's size: bounded like every later frame.
        container = av.open(str(source), timeout=(10.0, 10.0), options=limit)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(f"{source} cannot be read as video ({_reason(exc)}).") from exc
    with container:
        if not container.streams.video:
            raise MediaError(f"{source} has no video stream.")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise MediaError(f"{source} is in a video format Cradle cannot decode; convert it to MP4 (H.264) first.")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width == 0 and height == 0:
            raise MediaError(
                f"{source} has no picture Cradle can decode: damaged, or larger than 4K ({MAX_PIXELS} pixels)."
            )
        if not (2 <= width <= MAX_SIDE and 2 <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
            raise MediaError(
                f"{source} claims a {width}x{height} picture, outside 2..{MAX_SIDE} pixels a side or larger than "
                f"4K ({MAX_PIXELS} pixels)."
            )
        stream.codec_context.options = limit  # a later frame that grows past the bound is refused, not allocated
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        if container.duration and not seconds:
            seconds = container.duration / 1_000_000
        if seconds > MAX_SECONDS:
            raise MediaError(f"{source} claims to last {seconds / 3600:.0f} hours, over the 24-hour limit.")
        rate = stream.average_rate or stream.guessed_rate or Fraction(15)
        expected = stream.frames or 0
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        temp = Path(temp_name)
        try:
            counts = _redact_stream(container, stream, temp, policy, float(rate), detectors, source, expected)
            if expected and counts.frames < expected:
                raise MediaError(f"{source} is truncated: only {counts.frames} of {expected} frames could be decoded.")
            os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    return counts


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:160]


def _redact_stream(
    container,
    stream,
    temp: Path,
    policy: CameraPolicy,
    fps: float,
    detectors: Callable[[], WardDetectors] | None,
    source: Path,
    expected: int,
) -> RedactResult:
    import av

    width, height = stream.codec_context.width, stream.codec_context.height
    time_base = stream.time_base or Fraction(1, 90000)
    writer = Mp4Writer(temp, width, height, fps, time_base)
    done = False
    progress = _progress(expected)
    pool = DetectorPool(detectors or default_detectors(policy.faces), workers=min(2, os.cpu_count() or 1))
    redactor = Redactor(policy, pool, fps=fps, deadline_s=FILE_DEADLINE_S, blocking=True)
    decoded = 0
    last_pts: int | None = None
    shares: list[float] = []

    def write(frames: list[SafeFrame]) -> None:
        for frame in frames:
            writer.write(frame)
            shares.append(1.0 if frame.covered is None else float(frame.covered.mean()))
            progress.update(1)

    try:
        try:
            for video in container.decode(stream):
                if video.width != width or video.height != height:
                    raise MediaError(f"{source} changes picture size at frame {decoded}; it cannot be kept as one MP4.")
                pts = video.pts
                if pts is None or (last_pts is not None and pts <= last_pts):
                    pts = None if last_pts is None else last_pts + 1
                last_pts = pts
                image = to_bgr(video)
                write(redactor.push(Frame(image, decoded, pts, time_base, time.monotonic())))
                decoded += 1
        except av.error.FFmpegError as exc:
            raise MediaError(f"{source} is damaged or truncated after {decoded} frames ({_reason(exc)}).") from exc
        write(redactor.flush())
        if decoded == 0:
            raise MediaError(f"{source} has no decodable video frames.")
        writer.close()
        done = True
        counts = redactor.counts
        return RedactResult(
            decoded,
            counts.screened,
            sum(shares) / max(1, len(shares)),
            max(shares, default=0.0),
            counts.detections,
            counts.motion_detections,
            (width, height),
        )
    finally:
        pool.close()
        progress.close()
        if not done:
            writer.abort()


def _progress(total: int):
    """A progress bar on a terminal; silence otherwise."""
    from tqdm import tqdm

    return tqdm(total=total or None, unit="frame", desc="redact", disable=not sys.stderr.isatty(), leave=False)
