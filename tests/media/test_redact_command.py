"""`cradle redact`: same size, frame count and timing; clear one-line errors; never a partial OUTPUT."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import av
import numpy as np
import pytest
from media_support import write_video

from cradle.media import command
from cradle.media.frames import privacy_screen
from cradle.media.redact.pool import WardDetectors
from tests.faults import png_declaring

pytestmark = pytest.mark.nodb


def _frames(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(f.time, f.to_ndarray(format="bgr24")) for f in container.decode(stream)]
        return stream.codec_context.name, stream.width, stream.height, frames


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def _run(argv, capsys):
    code = command.main(["redact", *map(str, argv)])
    err = capsys.readouterr().err
    return code, err


def test_redacted_copy_keeps_size_frames_and_timestamps_and_hides_the_card(bed_video, tmp_path, capsys):
    source, camera = bed_video
    target = tmp_path / "out.mp4"
    code, err = _run([source, target], capsys)
    assert code == 0, err
    assert err == ""  # no progress bar without a terminal
    _, w, h, original = _frames(source)
    codec, w2, h2, redacted = _frames(target)
    assert (codec, w2, h2) == ("h264", w, h)
    assert len(redacted) == len(original) == 20
    assert [round(t, 4) for t, _ in redacted] == [round(t, 4) for t, _ in original]
    # Every ground-truth PHI line is flattened: no text contrast is left inside its box.
    for i in (0, 7, 19):
        truth = camera.frame(i)
        for line in truth.phi:
            xs = [int(x) for x, _ in line.quad]
            ys = [int(y) for _, y in line.quad]
            patch = redacted[i][1][min(ys) + 2 : max(ys) - 2, min(xs) + 2 : max(xs) - 2]
            assert patch.std() < 6, line.text
    # The infant is still there.
    infant = camera.frame(7).infant
    diff = np.abs(redacted[7][1].astype(int) - original[7][1].astype(int)).max(axis=2)
    assert (diff[infant] < 30).mean() > 0.95


def test_camera_config_adds_static_zones_and_pixelation(bed_video, tmp_path, capsys):
    source, _ = bed_video
    config = tmp_path / "bed-3.json"
    config.write_text(json.dumps({"zones": [[[0, 0], [0.2, 0], [0.2, 0.2], [0, 0.2]]], "mask": "pixelate"}))
    target = tmp_path / "zoned.mp4"
    code, err = _run([source, target, "--camera-config", config], capsys)
    assert code == 0, err
    _, _, _, original = _frames(source)
    _, _, _, redacted = _frames(target)
    zone_before, zone_after = original[5][1][:96, :128], redacted[5][1][:96, :128]
    assert np.abs(zone_before.astype(int) - zone_after.astype(int)).mean() > 1


def test_broken_detector_yields_privacy_screens_not_raw_frames(bed_video, tmp_path, capsys, monkeypatch):
    class Raises:
        def detect(self, image):
            raise RuntimeError("injected")

    monkeypatch.setattr(command, "default_detectors", lambda faces=False: lambda: WardDetectors(Raises()))
    source, _ = bed_video
    target = tmp_path / "screened.mp4"
    code, err = _run([source, target], capsys)
    assert code == 0
    assert "20 of 20 frames show the privacy screen" in err
    _, _, _, redacted = _frames(target)
    screen = privacy_screen(640, 480).astype(int)
    assert len(redacted) == 20
    assert all(np.abs(image.astype(int) - screen).mean() < 4 for _, image in redacted)


def _truncated(tmp_path, bed_video, faststart):
    _source, camera = bed_video
    whole = tmp_path / f"whole-{faststart}.mp4"
    write_video(whole, [camera.frame(i).image for i in range(20)], faststart=faststart)
    data = whole.read_bytes()
    cut = tmp_path / f"cut-{faststart}.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    return cut


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "does not exist"),
        ("empty", "is empty"),
        ("text", "cannot be read as video"),
        ("random", "cannot be read as video"),
        ("truncated", "cannot be read as video"),
        ("truncated-faststart", "truncated"),
        ("huge", "over the"),
        ("bad-config", "not readable JSON"),
        ("no-folder", "does not exist"),
    ],
)
def test_bad_input_gets_one_line_and_no_output(case, message, bed_video, tmp_path, capsys):
    target = tmp_path / "out.mp4"
    extra = []
    source = tmp_path / "input.mp4"
    if case == "missing":
        pass
    elif case == "empty":
        source.write_bytes(b"")
    elif case == "text":
        source.write_text("Name: Olivia Smith\n" * 50)
    elif case == "random":
        source.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    elif case == "truncated":
        source = _truncated(tmp_path, bed_video, faststart=False)
    elif case == "truncated-faststart":
        source = _truncated(tmp_path, bed_video, faststart=True)
    elif case == "huge":
        with open(source, "wb") as handle:  # sparse: costs no disk
            handle.truncate(100 * 2**30)
    elif case == "bad-config":
        source = bed_video[0]
        config = tmp_path / "cam.json"
        config.write_text("{zones: nope")
        extra = ["--camera-config", config]
    elif case == "no-folder":
        source = bed_video[0]
        target = tmp_path / "missing" / "out.mp4"
    code, err = _run([source, target, *extra], capsys)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cradle redact: "), err
    assert message in lines[0]
    assert "Traceback" not in err
    assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_command_line_prints_no_traceback_for_garbage(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 4000)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cradle.cli import main; sys.exit(main())",
            "redact",
            str(garbage),
            str(tmp_path / "out.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_report_prints_the_clips_figures_and_a_shown_area_from_the_camera_configuration(bed_video, tmp_path, capsys):
    source, _ = bed_video
    config = tmp_path / "bed.json"
    config.write_text(json.dumps({"shown_area": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}))
    target = tmp_path / "shown.mp4"
    code = command.main(["redact", str(source), str(target), "--camera-config", str(config), "--report"])
    out = capsys.readouterr().out
    assert code == 0
    assert "20 frames 640x480" in out and "0 frames screened" in out and "shown area set" in out
    masked = float(out.split("masked ")[1].split(" %")[0])
    assert masked >= 49.8  # the right half is outside the shown area: the 319 of 640 columns right of its edge
    _, _, _, redacted = _frames(target)
    right = redacted[10][1][:, 330:].astype(int)
    assert right.std() < 4  # nothing of the bed card or the monitor


def _unknown_codec_avi(path) -> None:
    """A real AVI whose video stream names a codec (fourcc ZZZZ) no decoder knows."""
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=15)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(15):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    path.write_bytes(path.read_bytes().replace(b"FMP4", b"ZZZZ"))


def test_an_unknown_codec_gets_one_line(tmp_path, capsys):
    source = tmp_path / "odd.avi"
    _unknown_codec_avi(source)
    code, err = _run([source, tmp_path / "out.mp4"], capsys)
    assert code != 0
    assert err.strip() == f"cradle redact: {source} is in a video format Cradle cannot decode; convert it to MP4 (H.264) first."  # noqa: E501
    assert not (tmp_path / "out.mp4").exists() and _leftovers(tmp_path) == []


PEAK_OF_A_CHILD = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
print(done.returncode)
print(done.stderr, end="")
"""


@pytest.mark.parametrize("side", [16000, 60000])
def test_a_tiny_file_declaring_a_huge_picture_is_refused_before_it_costs_memory(tmp_path, side):
    # 16000 x 16000 RGBA: the probe allocated the whole picture, about 1 GB, before the size check refused it.
    source = tmp_path / "huge.png"
    png_declaring(source, side)
    assert source.stat().st_size < 100
    redact = [sys.executable, "-c", "import sys; from cradle.cli import main; sys.exit(main())", "redact",
              str(source), str(tmp_path / "out.mp4")]  # fmt: skip
    measured = subprocess.run([sys.executable, "-c", PEAK_OF_A_CHILD, *redact], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})  # fmt: skip
    peak_mb, code, *err = measured.stdout.splitlines()
    assert int(code) == 1
    assert len(err) == 1 and "larger than 4K" in err[0] and "Traceback" not in measured.stdout, measured.stdout
    assert int(peak_mb) < 300, f"redact peaked at {peak_mb} MB refusing a {source.stat().st_size}-byte file"
    assert not (tmp_path / "out.mp4").exists()


def test_the_pixel_bound_is_the_one_trace_keeps():
    from cradle.forensics.tracing import MAX_PIXELS

    assert command.MAX_PIXELS == MAX_PIXELS
