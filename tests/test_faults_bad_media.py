"""Fault: suspects a privacy officer may be handed that Cradle cannot decode. `cradle trace` on an unknown codec
printed a traceback (and the run was not audited); the upload page must refuse such a file in one sentence."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from cradle.audit.models import Event
from cradle.forensics.models import TraceJob


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
