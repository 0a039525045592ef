"""Fault: suspects a privacy officer may be handed that Cradle cannot decode. `cradle trace` on an unknown codec
printed a traceback (and the run was not audited); the upload page must refuse such a file in one sentence; a file of a
few dozen bytes that declares a huge picture cost about a gigabyte in the probe."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from cradle.audit.models import Event
from cradle.forensics.models import TraceJob
from tests.faults import png_declaring


def unknown_codec_avi() -> bytes:
    """A real AVI whose video stream names a codec (fourcc ZZZZ) no decoder knows."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=15)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(30):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue().replace(b"FMP4", b"ZZZZ")


@pytest.mark.django_db
def test_trace_of_an_unknown_codec_is_one_line_and_audited(tmp_path):
    suspect = tmp_path / "odd.avi"
    suspect.write_bytes(unknown_codec_avi())
    with pytest.raises(CommandError) as refused:
        call_command("trace", str(suspect), stdout=io.StringIO())
    assert "cannot decode" in str(refused.value) and "\n" not in str(refused.value)
    assert Event.objects.filter(action="trace.run", outcome="failed").exists()


def test_the_upload_page_refuses_an_unknown_codec_in_one_sentence(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    officer = world.client("privacy")
    upload = SimpleUploadedFile("odd.avi", unknown_codec_avi(), "video/x-msvideo")
    response = officer.post(reverse("traces"), {"unit": world.unit1.pk, "suspects": [upload]})
    assert response.status_code == 200 and "odd.avi is not a video Cradle can read" in response.content.decode()
    assert not TraceJob.objects.exists()


LOAD_SUSPECT = """
import sys
import django
django.setup()
from cradle.forensics.tracing import TraceError, load_suspect
try:
    load_suspect(sys.argv[1])
except TraceError as e:
    print(e)
# The peak of this program's own memory. (Not getrusage: Linux carries the forking parent's peak across exec, and
# the test run's own process is large by now.)
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
"""


@pytest.mark.nodb
def test_a_tiny_suspect_declaring_a_huge_picture_is_refused_before_it_costs_memory(tmp_path):
    suspect = tmp_path / "huge.png"
    png_declaring(suspect, 16000)  # the probe allocated the whole 16000 x 16000 picture: about 1.1 GB
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL"))}
    env |= {"CRADLE_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "cradle.settings"}
    done = subprocess.run([sys.executable, "-c", LOAD_SUSPECT, str(suspect)], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    refusal, peak_mb = done.stdout.splitlines()
    assert "larger than 4K" in refusal and "Traceback" not in done.stderr, done.stderr
    # Django, NumPy, OpenCV and PyAV loaded: about 180 MB whatever the file.
    assert int(peak_mb) < 300, f"the probe peaked at {peak_mb} MB for a {suspect.stat().st_size}-byte file"
