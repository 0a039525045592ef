"""One camera's live pipeline: source -> redaction -> nurse pause -> marked 1 s segments, handed to a sink.

The sink (the worker) encrypts and stores each segment; nothing here touches a disk or a socket. A pause replaces the
picture with the privacy screen here, in the pipeline, so no viewer anywhere can receive the camera while it lasts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

from cradle.media.conform import Retimer, fit
from cradle.media.frames import Frame, SafeFrame, Screen, privacy_screen
from cradle.media.hls import TS_TIME_BASE, Segment, SegmentWriter
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.source import CameraSource, SourceSettings

log = logging.getLogger(__name__)

# A segment whose first frame was captured longer ago than its own length, the hold window and this much more (its
# encoding and sealing) is dropped, not stored: viewers get a gap rather than a picture that old.
SEGMENT_SLACK_S = 2.0


@dataclass(frozen=True)
class LiveSettings:
    fps: float = 15.0
    width: int = 640
    height: int = 480


class CameraPipeline:
    """Runs one camera until `stop` is set; every finished segment goes to `sink` in order."""

    def __init__(
        self,
        url: str,
        camera_id: str,
        mark_key: bytes,
        pool: DetectorPool,
        sink: Callable[[Segment], None],
        *,
        paused: Callable[[], bool] = lambda: False,
        policy: CameraPolicy | None = None,
        settings: LiveSettings | None = None,
        first_index: int = 0,
        source: CameraSource | None = None,
        observe: Callable[[SafeFrame], None] | None = None,
        on_rate: Callable[[float], None] | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings or live_settings(url)
        s = self.settings
        self._source = source or CameraSource(url, SourceSettings(fps=s.fps, width=s.width, height=s.height))
        self._redactor = Redactor(policy or CameraPolicy(), pool, fps=s.fps)
        # Segments are encoded on a thread of their own: the camera's thread goes on releasing frames meanwhile.
        self._writer = SegmentWriter(mark_key, camera_id, s.width, s.height, s.fps, first_index, background=True)
        self._sink = sink
        self._paused = paused
        # Sees every frame as it leaves redaction (the worker's metrics); never changes it.
        self._observe = observe
        # Told the frames per second actually redacted whenever overload changes it (the worker's metric).
        self.on_rate = on_rate
        # Timestamps follow the segment numbers, so that a stream taken over by another worker carries on smoothly.
        self._frame_no = first_index * self._writer.frames_per_segment
        self.segments = 0
        self.screened = 0
        self.dropped = 0  # segments too old to deliver
        self._captured: list[float] = []  # capture times of the frames of the segment being filled
        self._redactor.on_rate = self._rate_changed
        self._camera_id = camera_id
        # Called once per camera frame, in the pipeline's thread (the worker looks for new zone settings there).
        self._tick = tick

    def set_policy(self, policy: CameraPolicy) -> None:
        """New redaction settings (shown area, zones) from the next frame released on: frames still held for their
        detections get them too, so a change reaches viewers within the hold window."""
        self._redactor.policy = policy

    @property
    def sent_seconds(self) -> float:
        """Seconds of video the camera has sent to be redacted so far (not the screens standing in for a lost one)."""
        counts = self._redactor.counts
        return (counts.frames - (counts.screened - counts.failures)) / self.settings.fps

    @property
    def redacted_seconds(self) -> float:
        """Seconds of this camera's video redacted so far: frames neither repeated nor screened (the worker's
        measure of its own capacity counts these; a nurse's pause comes after redaction and counts)."""
        counts = self._redactor.counts
        return (counts.frames - counts.screened - counts.repeated) / self.settings.fps

    @property
    def failure(self) -> str:
        """Why the camera gives no picture (one sentence, no credentials), or "" while it does."""
        return self._source.failure

    def _conformed(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """The camera's frames at the stream's size and rate, whatever the camera sends: a 1080p camera at 25 frames
        a second is scaled and thinned to, say, 640x480 at 15, rather than stopping the stream."""
        s = self.settings
        retimer = Retimer(s.fps)
        index = 0  # the stream's own frame numbers: redaction counts on one number per frame, none skipped
        for frame in frames:
            image = fit(frame.image, s.width, s.height)
            if frame.lost:  # the source's screens already come at the stream's rate
                retimer.reset()
                copies = 1
            elif frame.pts is not None and frame.time_base:
                copies = retimer.copies(float(frame.pts * frame.time_base))
            else:
                copies = retimer.copies(frame.arrived)
            for _ in range(copies):
                yield replace(frame, image=image, index=index)
                index += 1

    def run(self, stop: threading.Event) -> None:
        try:
            for frame in self._conformed(self._source.frames()):
                if stop.is_set():
                    break
                if self._tick is not None:
                    self._tick()
                self._emit(self._redactor.push(frame))
            else:
                self._emit(self._redactor.flush())
                for segment in self._writer.close():
                    self._deliver(segment)
        finally:
            self._writer.stop()
            self._source.close()

    def _emit(self, frames: list[SafeFrame]) -> None:
        paused = self._paused() if frames else False
        for frame in frames:
            if self._observe is not None:
                self._observe(frame if not paused else replace(frame, screened=True))
            if paused or frame.screened:
                self.screened += 1
            if paused:
                height, width = frame.image.shape[:2]
                frame = SafeFrame(
                    privacy_screen(width, height, Screen.PAUSED),
                    frame.index,
                    frame.pts,
                    frame.time_base,
                    frame.arrived,
                    True,
                    screen=Screen.PAUSED,
                )
            self._captured.append(frame.arrived)
            for segment in self._writer.write(self._retimed(frame)):
                self._deliver(segment)

    def _retimed(self, frame: SafeFrame) -> SafeFrame:
        """The frame on the stream's clock: a camera's own timestamps restart when it reconnects, the stream's don't."""
        pts = round(self._frame_no / self.settings.fps / TS_TIME_BASE)
        self._frame_no += 1
        return replace(frame, pts=pts, time_base=Fraction(TS_TIME_BASE))

    def _deliver(self, segment: Segment) -> None:
        captured, self._captured = self._captured[: segment.frames], self._captured[segment.frames :]
        age = time.monotonic() - min(captured, default=time.monotonic())
        if age > segment.duration + self._redactor.deadline_s + SEGMENT_SLACK_S:
            self.dropped += 1
            log.warning("camera %s: segment %d dropped, its first frame is %.1f s old", self._camera_id,
                        segment.index, age)  # fmt: skip
            return
        self.segments += 1
        self._sink(segment)

    def _rate_changed(self, stride: int) -> None:
        fps = self.settings.fps / stride
        if stride > 1:
            log.warning("camera %s: redaction is behind; redacting %.1f frames a second, repeating the last safe "
                        "frame in between", self._camera_id, fps)  # fmt: skip
        else:
            log.info("camera %s: redaction has caught up; every frame is redacted again", self._camera_id)
        if self.on_rate is not None:
            self.on_rate(fps)


def live_settings(url: str) -> LiveSettings:
    """A simulated camera says its own size and rate; a real one is taken at the defaults."""
    if url.startswith("sim://"):
        from cradle.media.sim import settings_from_url

        sim = settings_from_url(url)
        return LiveSettings(fps=sim.fps, width=sim.width, height=sim.height)
    return LiveSettings()
