"""A real RTSP camera on loopback: Debian's GStreamer RTSP server (scripts/rtsp-camera) serving an H.264 file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "rtsp-camera"
SYSTEM_PYTHON = "/usr/bin/python3"
USER, PASSWORD = "ward-cam", "pw:with spaces&symbols"


def available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    check = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True)
    return probe.returncode == 0


# `make setup` installs it; a developer without it is told why, but CI must run these tests, never skip them.
needs_rtsp_server = pytest.mark.skipif(
    not available() and not os.environ.get("CI"),
    reason="the GStreamer RTSP server is not installed (scripts/install-debian-packages)",
)


def write_camera_file(path: Path, width: int, height: int, fps: int, seconds: float) -> Path:
    """An H.264 file like a ward camera's: moving bars on grey, `fps` frames a second, a keyframe every second."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.max_b_frames = 0
        stream.options = {"g": str(fps), "preset": "ultrafast", "tune": "zerolatency"}
        stream.time_base = Fraction(1, fps)
        for i in range(int(fps * seconds)):
            image = np.full((height, width, 3), 110, np.uint8)
            x = (i * width // (2 * fps)) % width
            image[:, x : x + width // 10] = (40, 180, 220)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RtspCamera:
    file: Path
    port: int
    path: str = "/bed"
    user: str = USER
    password: str = PASSWORD
    udp: bool = False
    process: subprocess.Popen | None = None

    def url(self, *, user: str | None = None, password: str | None = None, path: str | None = None) -> str:
        from cradle.media.camera_url import with_credentials

        bare = f"rtsp://127.0.0.1:{self.port}{path or self.path}"
        return with_credentials(bare, f"{user or self.user}:{password or self.password}")

    def start(self) -> RtspCamera:
        command = [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port), "--path", self.path, "--file", str(self.file)]
        if self.user:
            command += ["--user", self.user, "--password", self.password]
        if self.udp:
            command.append("--udp")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        line = self.process.stdout.readline().strip()
        if line != "ready":
            self.stop()
            raise RuntimeError(f"the RTSP camera did not start: {line!r}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def write_ward_file(path: Path, sim_url: str, seconds: float) -> Path:
    """An H.264 file of a simulated bed (bed card, monitor, baby) as a ward camera would film it, at the simulated
    camera's size and rate."""
    from cradle.media.sim import SimCamera, settings_from_url

    settings = settings_from_url(sim_url)
    camera = SimCamera(settings)
    fps = round(settings.fps)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = settings.width, settings.height, "yuv420p"
        stream.codec_context.max_b_frames = 0
        stream.options = {"g": str(fps), "preset": "ultrafast"}
        stream.time_base = Fraction(1, fps)
        for i in range(int(fps * seconds)):
            frame = av.VideoFrame.from_ndarray(camera.frame(i).image, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
