"""Glass-to-glass latency of live video: capture time drawn into the camera's frames, read back by a viewer over HTTP.

The real path runs on a throw-away installation: the Worker (with the rapidocr DetectorPool) runs the bed's camera
through redaction, marking and the three encodes, seals each segment into the store and indexes it; `cradle serve`
serves a signed-in parent's playlist and segments. The only change is the camera: the sim picture with the capture
wall-clock time drawn in as a block code (bench/bench_clock.py), stamped when the frame leaves the camera.

The viewer polls the live playlist once a second (hls.js reloads a live playlist every last-segment duration, 1 s
here, and half the target duration when nothing changed), fetches each new segment as soon as it appears, decodes it
and reads the newest frame's capture time.

(a) capture -> available: when a segment's bytes have arrived, now minus the capture time of its newest frame.
(b) glass-to-glass with the player's buffer: Cradle's player (cradle/static/cradle/player.js) sets hls.js's
    liveSyncDuration to PLAYER_HOLD_S, so it plays that far behind the end of the newest segment it has.
    A player starting at a random moment shows, for the rest of the session,
        t0 - capture(end of newest segment held at t0) + hold,
    so (b) samples the age of the newest held segment's end every 50 ms and adds the hold.

    .venv/bin/python bench/latency.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import re
import sys
import threading
import time

import numpy as np
from bench_clock import draw, read
from bench_ward import Installation, machine, viewers, ward

FPS = 15.0
PLAYER_HOLD_S = 1.0  # hls.js liveSyncDuration in cradle/static/cradle/player.js
WARMUP_S = 8.0  # detectors load and the first segments carry start-up costs


def stamped_opener(epoch: float):
    """Sim pictures with the capture time (ms since `epoch`) drawn in as they leave the camera."""
    from cradle.media.source import sim_pictures

    def open_stamped(url: str):
        for image, pts, time_base in sim_pictures(url):
            now = time.time()
            CAPTURED.append(now)
            yield draw(image, int((now - epoch) * 1000)), pts, time_base

    return open_stamped


def use_stamped_camera(epoch: float) -> None:
    """The worker builds its pipelines with the stamped source; everything else in it stays as it is."""
    from cradle.media.live import CameraPipeline, live_settings
    from cradle.media.source import CameraSource, SourceSettings
    from cradle.worker import camera_run

    def pipeline(url, *args, **kwargs):
        s = live_settings(url)
        kwargs["source"] = CameraSource(
            url, SourceSettings(fps=s.fps, width=s.width, height=s.height), opener=stamped_opener(epoch)
        )
        return CameraPipeline(url, *args, **kwargs)

    camera_run.CameraPipeline = pipeline


# Capture time of every frame the camera gave, in order: the fallback when redaction masked the drawn code (the
# stream has exactly FPS frames a segment from index 0, screened ones included, so frame n is in segment n // FPS).
CAPTURED: list[float] = []
STORED: dict[int, float] = {}  # segment index -> when the worker had sealed and indexed it
CUT_S: list[float] = []  # marking and the three encodes of one segment


def time_the_stages() -> None:
    """Notes when each segment is stored and how long its encodes took, around the real functions."""
    from cradle.media.hls import SegmentWriter
    from cradle.worker.camera_run import CameraRun

    store, encode = CameraRun._store, SegmentWriter._encode

    def timed_store(self, segment):
        store(self, segment)
        STORED[segment.index] = time.time()

    def timed_encode(self, frames, pts, index):
        began = time.perf_counter()
        try:
            return encode(self, frames, pts, index)
        finally:
            CUT_S.append(time.perf_counter() - began)

    CameraRun._store = timed_store
    SegmentWriter._encode = timed_encode


class Viewer:
    """Polls the playlist like hls.js and notes, per segment, when it arrived and its newest frame's capture time."""

    def __init__(self, port: int, cookie: str, playlist: str, epoch: float) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self._headers = {"Cookie": f"cradle_session={cookie}"}
        self._playlist = playlist
        self._epoch = epoch
        self.got: dict[int, tuple[float, float]] = {}  # media sequence -> (arrived, capture of the newest frame)
        self.frames = self.readable = self.from_code = 0
        self.disagree = 0.0
        self.decode_s: list[float] = []

    def _get(self, path: str) -> bytes:
        self._conn.request("GET", path, headers=self._headers)
        response = self._conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        return body

    def run(self, stop: threading.Event) -> None:
        from cradle.media.hls import decode

        while not stop.is_set():
            polled = time.time()
            text = self._get(self._playlist).decode()
            first = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
            urls = [line for line in text.splitlines() if line and not line.startswith("#")]
            if first:
                for n, url in enumerate(urls):
                    seq = int(first.group(1)) + n
                    if seq in self.got or (self.got and seq < max(self.got)):
                        continue
                    data = self._get(url)
                    arrived = time.time()
                    began = time.perf_counter()
                    frames = decode(data)
                    self.decode_s.append(time.perf_counter() - began)
                    capture = self._newest_capture(frames, seq)
                    if capture is not None:
                        self.got[seq] = (arrived, capture)
            stop.wait(max(0.0, polled + 1.0 - time.time()))

    def _newest_capture(self, frames: list[np.ndarray], seq: int) -> float | None:
        """Capture time of the segment's last frame: from the drawn code where redaction left it readable, else from
        the camera's own record (checked against the code wherever both exist)."""
        self.frames += len(frames)
        last = seq * int(FPS) + len(frames) - 1
        recorded = CAPTURED[last] if last < len(CAPTURED) else None
        for back, frame in enumerate(reversed(frames)):
            ms = read(frame)
            if ms is not None:
                self.readable += sum(read(f) is not None for f in frames)
                drawn = self._epoch + ms / 1000 + back / FPS
                if recorded is not None:
                    self.disagree = max(self.disagree, abs(drawn - recorded))
                self.from_code += 1
                return drawn
        return recorded


def percentiles(values: list[float]) -> str:
    a = np.array(values)
    return f"p50 {np.percentile(a, 50):5.2f} s  p95 {np.percentile(a, 95):5.2f} s  max {a.max():5.2f} s  (n={len(a)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    epoch = time.time()

    with Installation("cradle-bench-latency-") as inst:
        from cradle.media.hls import HLS_X264
        from cradle.media.redact import CameraPolicy
        from cradle.worker.pipelines import Worker

        place = ward(f"sim://bench-bed?size=640x480&fps={FPS:g}")
        (cookie,) = viewers(place.admission, 1)
        print(f"Machine: {machine()}")
        policy = CameraPolicy()
        print(
            f"Camera 640x480 @ {FPS:g} fps, 1 s segments (A, B and reference encoded; x264 preset "
            f"{HLS_X264['preset']}), redaction hold window {policy.hold_frames} frames "
            f"({policy.hold_frames / FPS:.2f} s), lookahead {policy.lookahead} frames"
        )
        _server, port = inst.serve()
        use_stamped_camera(epoch)
        time_the_stages()
        worker = Worker()
        stop_worker = threading.Event()
        worker_thread = threading.Thread(target=worker.run_forever, args=(stop_worker, 1.0), daemon=True)
        worker_thread.start()

        viewer = Viewer(port, cookie, f"/babies/{place.admission.pk}/live.m3u8", epoch)
        stop_viewer = threading.Event()
        viewer_thread = threading.Thread(target=viewer.run, args=(stop_viewer,), daemon=True)
        viewer_thread.start()
        began = time.time()
        time.sleep(WARMUP_S + args.seconds)
        stop_viewer.set()
        viewer_thread.join(timeout=15)
        stop_worker.set()
        worker_thread.join(timeout=30)
        worker.pool.close()

        from cradle.viewing.models import LiveSegment

        stored = LiveSegment.objects.filter(camera=place.camera).count()
        window_start = began + WARMUP_S
        kept = {seq: v for seq, v in viewer.got.items() if v[0] >= window_start}
        got = sorted(kept.values())
        if len(got) < 3:
            print(f"Too few segments reached the viewer ({len(got)} of {stored} stored); nothing to measure.")
            return 1
        available = [arrived - capture for arrived, capture in got]
        end_of = [capture + 1 / FPS for _arrived, capture in got]
        ages = []
        for t in np.arange(got[0][0], got[-1][0], 0.05):
            held = [end for (arrived, _c), end in zip(got, end_of, strict=True) if arrived <= t]
            ages.append(t - held[-1])
        print(
            f"Measured {args.seconds:.0f} s after {WARMUP_S:.0f} s of warm-up: {len(got)} segments reached the viewer "
            f"({stored} stored in all); code readable on {viewer.readable} of {viewer.frames} decoded frames; "
            f"viewer decode {np.mean(viewer.decode_s) * 1000:.0f} ms a segment"
        )
        print(
            f"Newest-frame capture time read from the drawn code on {viewer.from_code} segments, from the camera's "
            f"record on the rest; where both exist they differ by at most {viewer.disagree * 1000:.0f} ms"
        )
        gaps = np.diff([capture for _a, capture in got])
        print(f"Segment cadence at the viewer: {np.mean(gaps):.2f} s between newest frames (max {gaps.max():.2f} s)")
        print(f"(a) capture -> segment available over HTTP:       {percentiles(available)}")
        print(
            f"(b) glass-to-glass, player holding {PLAYER_HOLD_S:.1f} s behind the newest segment: "
            f"{percentiles([age + PLAYER_HOLD_S for age in ages])}"
        )
        print(f"    age of the newest held segment's end alone:   {percentiles(ages)}")
        in_worker = [STORED[seq] - capture for seq, (_a, capture) in kept.items() if seq in STORED]
        to_viewer = [arrived - STORED[seq] for seq, (arrived, _c) in kept.items() if seq in STORED]
        print("Where (a) goes:")
        print(f"    newest frame captured -> segment stored:      {percentiles(in_worker)}")
        print(f"      of which marking + 3 encodes (A, B, ref):   {percentiles(CUT_S[3:])}")
        print(f"    stored -> bytes at the viewer (1 s polling):  {percentiles(to_viewer)}")
        print("Target: glass-to-glass <= 3 s p95.")
        print(f"Load average at the end: {machine().rsplit('load average ', 1)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
