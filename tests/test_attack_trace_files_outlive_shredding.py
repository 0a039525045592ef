"""Attack: after a trace, `traces/N/` kept the suspect MP4 in plaintext and PNG frames decrypted from the store.
When the parents withdrew everything, those files were still there and still decoded, and `cradle retention verify`
said every object was undecryptable or gone. Whatever a trace keeps must go with the admission it shows."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from cradle import lifecycle
from cradle.forensics import jobs
from cradle.forensics.models import TraceJob
from cradle.retention import service
from cradle.viewing.storage import segment_store
from tests.drill import mp4_bytes
from tests.test_leak_drill import LEAKER, drill, leak  # noqa: F401  (drill is a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(module_world, db):
    return module_world


# Sealed objects are random bytes, and about one random file in five hundred probes as a raw elementary stream
# (H.261, H.263, ...) and may even yield a frame. Such a guess counts only when it decodes into a run of frames.
RAW_STREAM_GUESSES = {"h261", "h263", "mpegvideo", "m4v", "h264", "hevc", "vvc", "evc"}
RAW_STREAM_GUESSES |= {"cavsvideo", "avs2", "avs3", "dirac", "vc1"}
FRAMES_OF_A_REAL_STREAM = 5


def _frames(container, wanted: int) -> int:
    import av

    decoded = 0
    try:
        for _frame in container.decode(video=0):
            decoded += 1
            if decoded >= wanted:
                break
    except (av.FFmpegError, ValueError):
        pass
    return decoded


def _decodable_files(folder) -> list[str]:
    """Every file under `folder` that opens as a picture or a video without any key."""
    import av

    found = []
    for path in folder.rglob("*") if folder.exists() else []:
        if not path.is_file():
            continue
        if cv2.imread(str(path)) is not None:
            found.append(str(path))
            continue
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    continue
                guess = container.format.name in RAW_STREAM_GUESSES
                if not guess or _frames(container, FRAMES_OF_A_REAL_STREAM) >= FRAMES_OF_A_REAL_STREAM:
                    found.append(str(path))
        except (av.FFmpegError, ValueError, OSError):
            pass
    return found


def _traced(world, drill, tmp_path) -> TraceJob:  # noqa: F811
    copy = mp4_bytes(leak(drill.watched(LEAKER)[6:], 480, 360, 300_000, 0.05))
    officer = world.client("privacy")
    officer.post(reverse("traces"), {"unit": world.unit1.pk, "suspects": [SimpleUploadedFile("leak.mp4", copy)]})
    assert jobs.run_pending() == 1
    job = TraceJob.objects.get()
    assert job.status == "done" and job.report["account"] == f"viewer{LEAKER}", job.error
    return job


def _verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("retention", "verify", stdout=out, stderr=out)
    except CommandError as e:
        return 1, out.getvalue() + str(e)
    return 0, out.getvalue()


def test_a_finished_trace_leaves_no_plaintext_and_its_frames_go_with_the_admission(
    world, drill, settings, tmp_path  # noqa: F811
):
    settings.DATA_DIR = tmp_path
    job = _traced(world, drill, tmp_path)
    officer = world.client("privacy")
    # Nothing readable is left on disk once the trace has ended: the suspect is gone, the frames are sealed.
    assert _decodable_files(tmp_path / "traces") == []
    assert not (tmp_path / "traces" / str(job.pk)).exists()
    page = officer.get(reverse("trace_report", args=[job.pk])).content.decode()
    assert page.count('src="data:image/png;base64,') == 2
    sealed = [n for n in segment_store().media_backend.list(f"{drill.fam.admission.media_id}/") if "trace-" in n]
    assert len(sealed) == 2
    assert _decodable_files(settings.MEDIA_DIR) == []

    # The parents withdraw everything: the frames become unreadable and the report stops naming the bed.
    lifecycle.withdraw_everything(drill.fam.admission)
    job.refresh_from_db()
    page = officer.get(reverse("trace_report", args=[job.pk])).content.decode()
    assert 'src="data:image/png;base64,' not in page
    suspect = job.report["suspects"][0]
    assert suspect["bed"] is None and suspect["camera"] is None and suspect["thumbnails"] == []
    assert job.report["account"] == f"viewer{LEAKER}"  # who leaked stays on the record
    # The store is shared with the rest of the run, so only this admission's and this trace's lines are looked at.
    _status, text = _verify()
    mine = [line for line in text.splitlines() if drill.fam.admission.media_id in line or "trace" in line]
    assert mine == []


def test_retention_verify_names_trace_files_a_dead_process_left_and_the_run_removes_them(
    world, settings, tmp_path, fresh_storage
):
    settings.DATA_DIR = tmp_path
    job = TraceJob.objects.create(unit=world.unit1, status=TraceJob.Status.DONE, report={"suspects": []})
    # As if the process had been killed before it removed the upload, with a frame from an older version beside it.
    folder = tmp_path / "traces" / str(job.pk)
    folder.mkdir(parents=True)
    (folder / "suspect-0").write_bytes(mp4_bytes(list(np.zeros((10, 64, 64, 3), np.uint8))))
    cv2.imwrite(str(folder / "source-0.png"), np.zeros((8, 8, 3), np.uint8))
    running = TraceJob.objects.create(unit=world.unit1, status=TraceJob.Status.RUNNING)
    (tmp_path / "traces" / str(running.pk)).mkdir()
    (tmp_path / "traces" / str(running.pk) / "suspect-0").write_bytes(b"being traced")
    status, text = _verify()
    assert status != 0 and "outlived its job" in text and f"{running.pk}/suspect-0" not in text
    assert service.run()["trace_files_removed"] == 2
    assert not folder.exists() and (tmp_path / "traces" / str(running.pk) / "suspect-0").exists()
    running.delete()
    status, text = _verify()
    assert status == 0, text


def test_a_trace_that_still_shows_a_shredded_admission_is_a_violation(world, settings, tmp_path, fresh_storage):
    settings.DATA_DIR = tmp_path
    fam = world.families["b"]
    job = TraceJob.objects.create(unit=world.unit2, status=TraceJob.Status.DONE, report={"suspects": [{"bed": "B1"}]},
                                  kept=[{"media_id": fam.admission.media_id, "suspect": 0, "kind": ""}])  # fmt: skip
    service.shred(fam.admission, "test")
    job.refresh_from_db()
    assert job.kept == [] and job.report["suspects"][0]["bed"] is None
    # A restore of an older database brings the report back as it was: verify says so.
    TraceJob.objects.filter(pk=job.pk).update(kept=[{"media_id": fam.admission.media_id, "suspect": 0, "kind": ""}])
    status, text = _verify()
    assert status != 0 and f"trace {job.pk} still shows" in text
