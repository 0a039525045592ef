"""One simulated bed as a camera sends it, and the CPU one camera costs while it keeps up (bench/pipeline.py).

The real-time rows of bench/pipeline.py need a quiet machine: on a loaded one a camera falls behind, its frames turn
into screens, and a screened frame costs no masks, so the CPU per camera-second it prints is then lower than a camera
that keeps up costs. `sustained` measures that cost instead, whatever the load: every frame of a bench bed is redacted
(its looks waited for, none screened for lateness), marked, encoded A, B and reference, and sealed, and each stage's
CPU time is added up in the thread that spends it.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cradle.media.frames import Frame
from cradle.media.hls import SegmentWriter
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.redact.pool import default_detectors
from cradle.media.sim import SimCamera, SimSettings
from cradle.media.source import to_bgr
from cradle.media.store import LocalDisk, MasterKey, SegmentStore

FPS = 15.0
# The watchdog budget while measuring: long enough that no frame is screened for lateness on a loaded machine.
PATIENT_S = 3600.0


def bed(n: int, width: int, height: int) -> SimSettings:
    """The simulated bed bench/pipeline.py runs as camera n."""
    return SimSettings(bed=f"bed-{n}", lang="zh" if n % 2 else "en", seed=n, width=width, height=height)


def recording(settings: SimSettings, frames: int) -> bytes:
    """`frames` frames of a simulated bed as an H.264 MPEG-TS stream, as an IP camera would send them (2 s GOPs)."""
    camera = SimCamera(settings)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=round(FPS))
        stream.width, stream.height = settings.width, settings.height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20", "g": str(round(2 * FPS)), "bf": "0"}
        for i in range(frames):
            video = av.VideoFrame.from_ndarray(camera.frame(i).image, format="bgr24")
            video.pts = i
            container.mux(stream.encode(video))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def decoded(data: bytes) -> Iterator[np.ndarray]:
    """The BGR frames of a recording, decoded as cradle.media.source decodes a camera (PyAV, threads as it likes,
    to_bgr)."""
    with av.open(io.BytesIO(data), mode="r", format="mpegts") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for video in container.decode(stream):
            yield to_bgr(video)


class _Timed:
    """The real detectors, adding up the CPU time of each look in the pool's thread, whole frame or crop."""

    def __init__(self, inner, spent: dict[str, float]) -> None:
        self._inner, self._spent = inner, spent
        self.counting = False

    def detect(self, image, faces, side=0, region=None, likeness=False, known=(), lines=None):
        started = time.thread_time()
        try:
            return self._inner.detect(image, faces, side, region, likeness, known=known, lines=lines)
        finally:
            self._count(image, region, started)

    def tile_lines(self, image, box, tile):
        started = time.thread_time()
        try:
            return self._inner.tile_lines(image, box, tile)
        finally:
            self._count(image, box, started)

    def _count(self, image, region, started: float) -> None:
        height, width = image.shape[:2]
        whole = region is None or tuple(region) == (0, 0, width, height)
        if self.counting:
            self._spent["detection, whole frame" if whole else "detection, crops"] += time.thread_time() - started


def sustained(size: tuple[int, int], beds: list[int], seconds: float, warmup: float) -> dict[str, float]:
    """CPU seconds per camera-second of each stage, over `seconds` of each of `beds` after `warmup` seconds."""
    width, height = size
    spent = dict.fromkeys(
        ("decode", "redactor (motion, looks, release, masks)", "detection, crops", "detection, whole frame",
         "marks, reference, encodes A, B and reference", "sealing"),
        0.0,
    )  # fmt: skip
    warm = round(warmup * FPS)
    frames = warm + round(seconds * FPS)
    build = default_detectors()
    with tempfile.TemporaryDirectory() as folder:
        store = SegmentStore(LocalDisk(Path(folder) / "media"), MasterKey.create(Path(folder) / "master.key"))
        store.admit("bench")
        for n in beds:
            data = recording(bed(n, width, height), frames)
            # Decoding may use threads of its own: process CPU, measured while nothing else runs.
            started = time.process_time()
            for _ in decoded(data):
                pass
            spent["decode"] += (time.process_time() - started) * seconds / (warmup + seconds)
            detectors: list[_Timed] = []

            def timed(detectors: list[_Timed] = detectors) -> _Timed:
                detectors.append(_Timed(build(), spent))
                return detectors[-1]

            with DetectorPool(timed, workers=1) as pool:
                redactor = Redactor(CameraPolicy(), pool, fps=FPS, deadline_s=PATIENT_S, blocking=True, phase=n * 7)
                writer = SegmentWriter(b"bench-mark-key-0123456789abcdef", str(n), width, height, FPS)
                counting = False
                for index, image in enumerate(decoded(data)):
                    if index == warm:
                        counting = True
                        for detector in detectors:
                            detector.counting = True
                    started = time.thread_time()
                    frame = Frame(image, index, round(index / FPS * 90000), Fraction(1, 90000), time.monotonic())
                    ready = redactor.push(frame)
                    if index == frames - 1:
                        ready += redactor.flush()
                    redacted = time.thread_time()
                    segments = [segment for frame in ready for segment in writer.write(frame)]
                    encoded = time.thread_time()
                    for segment in segments:
                        for name, blob in segment.objects().items():
                            store.put("bench", str(n), segment.index, name, blob)
                    if counting:
                        spent["redactor (motion, looks, release, masks)"] += redacted - started
                        spent["marks, reference, encodes A, B and reference"] += encoded - redacted
                        spent["sealing"] += time.thread_time() - encoded
    camera_seconds = seconds * len(beds)
    return {stage: cpu / camera_seconds for stage, cpu in spent.items()}
