"""Leak tracing from the privacy officer's pages: upload, background job, evidence report, and who may see it."""

from __future__ import annotations

import dataclasses
import json
import os
import stat

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cradle.audit.models import Event
from cradle.forensics import jobs, pdf, tracing
from cradle.forensics.models import TraceJob
from cradle.unit.models import StaffMembership
from tests.conftest import make_user, sign_in
from tests.drill import mp4_bytes
from tests.test_leak_drill import LEAKER, drill, leak  # noqa: F401  (drill is a fixture)

# Every test runs in a savepoint of its own, inside the module's transaction that holds the ward and the drill.
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(module_world, db):
    """The module's ward, which the drill is built on."""
    return module_world


def _upload(client, unit, *files):
    return client.post(reverse("traces"), {"unit": unit.pk, "suspects": list(files)})


def _other_units_officer(world):
    officer = make_user("privacy2", totp=True)
    StaffMembership.objects.create(user=officer, unit=world.unit2, role=StaffMembership.Role.PRIVACY_OFFICER)
    client = world.client(None)
    sign_in(client, officer)
    return client


def test_an_officer_uploads_a_leaked_copy_and_the_report_names_the_leaker(world, drill, settings, tmp_path):  # noqa: F811
    settings.DATA_DIR = tmp_path
    copy = mp4_bytes(leak(drill.watched(LEAKER)[6:], 480, 360, 300_000, 0.05))
    officer = world.client("privacy")

    response = _upload(officer, world.unit1, SimpleUploadedFile("found online.mp4", copy, "video/mp4"))
    job = TraceJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("trace_job", args=[job.pk])
    stored = tmp_path / "traces" / str(job.pk) / "suspect-0"
    assert stored.read_bytes() == copy and stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert job.status == "queued" and job.created_by == world.users["privacy"]
    page = officer.get(reverse("trace_job", args=[job.pk])).content.decode()
    assert "cradle/trace.js" in page and "<progress" in page

    assert jobs.run_pending() == 1
    job.refresh_from_db()
    assert job.status == "done" and job.progress == 100, job.error
    status = officer.get(reverse("trace_status", args=[job.pk])).json()
    assert status["finished"] and status["report"] == reverse("trace_report", args=[job.pk])

    report = officer.get(reverse("trace_report", args=[job.pk]))
    body = report.content.decode()
    assert report.status_code == 200
    evidence = {k: job.report[k] for k in ("verdict", "reason", "account", "candidates")}
    segments = [(x["index"], x["z"], x["bit"], x["candidates"].get(f"viewer{LEAKER}")) for x in suspect_segments(job)]
    assert job.report["account"] == f"viewer{LEAKER}", (evidence, segments)
    assert f"the account viewer{LEAKER}" in body
    assert body.count('src="data:image/png;base64,') == 2  # suspect and source side by side
    assert "Bit read" in body and "<svg" in body and f"Audit trail of viewer{LEAKER}" in body
    assert "clip.segment" in body  # the leaker's fetches are in its audit trail

    download = officer.get(reverse("trace_report_json", args=[job.pk]))
    data = json.loads(download.content)
    assert data == job.report and data["verdict"] == "identified" and data["account"] == f"viewer{LEAKER}"
    suspect = data["suspects"][0]
    assert suspect["file"] == "found_online.mp4" and suspect["camera"] == drill.fam.bed.camera.pk
    assert data["candidates"][0]["p_innocent"] < 1e-4 and len(data["suspects"][0]["segments"]) >= 14
    assert all(e["action"] for e in data["audit_trail"])

    if pdf.chromium() or os.environ.get("CI"):  # CI must print it; a bare developer machine may lack Chromium
        printed = officer.get(reverse("trace_report_pdf", args=[job.pk]))
        assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"
        assert printed.content.startswith(b"%PDF") and len(printed.content) > 10_000  # with both thumbnails
        assert Event.objects.filter(action="trace.report_download", detail__format="pdf").count() == 1

    officer_id = world.users["privacy"].pk
    for action in ("trace.queued", "trace.run", "trace.report_view", "trace.report_download"):
        events = Event.objects.filter(action=action, detail__job=job.pk)
        assert events and all(e.actor_id == officer_id and e.unit_id == world.unit1.pk for e in events), action
    assert Event.objects.get(action="trace.run", detail__job=job.pk).detail["account"] == f"viewer{LEAKER}"

    # Nobody else reaches the trace or its results, not even the officer of another unit.
    other_officer = _other_units_officer(world)
    for client in (world.client("nurse1"), world.client("parent_a"), world.client("admin"), other_officer):
        for name in ("trace_job", "trace_status", "trace_report", "trace_report_json", "trace_report_pdf"):
            assert client.get(reverse(name, args=[job.pk])).status_code == 404, name
        if client is not other_officer:
            assert client.get(reverse("traces")).status_code == 404
            assert _upload(client, world.unit1, SimpleUploadedFile("x.mp4", copy)).status_code == 404
    listed = other_officer.get(reverse("traces")).content.decode()
    assert "found_online.mp4" not in listed and reverse("trace_job", args=[job.pk]) not in listed
    refused = _upload(other_officer, world.unit1, SimpleUploadedFile("x.mp4", copy))
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert TraceJob.objects.count() == 1

    job.delete()
    assert not (tmp_path / "traces" / str(job.pk)).exists()


def suspect_segments(job: TraceJob) -> list[dict]:
    return [x for suspect in job.report["suspects"] for x in suspect["segments"]]


def _small_video() -> bytes:
    noise = np.random.default_rng(1).integers(0, 255, (10, 64, 64, 3), dtype=np.uint8)
    return mp4_bytes(list(noise))


def test_a_non_video_is_refused_with_a_clear_error_and_no_job(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    response = _upload(world.client("privacy"), world.unit1, SimpleUploadedFile("leak.mp4", b"not a video" * 100))
    assert response.status_code == 200
    assert "leak.mp4 is not a video Cradle can read" in response.content.decode()
    assert not TraceJob.objects.exists() and not (tmp_path / "traces").exists()


def test_an_oversized_upload_is_refused(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.CRADLE = dataclasses.replace(settings.CRADLE, trace_upload_max_bytes=1024)
    video = _small_video()
    assert len(video) > 1024
    response = _upload(world.client("privacy"), world.unit1, SimpleUploadedFile("big.mp4", video))
    assert "big.mp4 is larger than 1 KiB" in response.content.decode()
    assert not TraceJob.objects.exists()


def test_an_officer_cannot_trace_for_a_unit_they_do_not_audit(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    response = _upload(world.client("privacy"), world.unit2, SimpleUploadedFile("a.mp4", _small_video()))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not TraceJob.objects.exists()


def test_a_job_that_fails_or_crashes_is_marked_failed_with_one_line(world, settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    officer = world.client("privacy")
    _upload(officer, world.unit1, SimpleUploadedFile("short.mp4", _small_video()))  # shorter than a second
    job = TraceJob.objects.get()
    jobs.run_pending()
    job.refresh_from_db()
    assert job.status == "failed" and job.error.startswith("short.mp4 is shorter than a second")
    assert str(tmp_path) not in job.error and "\n" not in job.error
    assert Event.objects.filter(action="trace.run", outcome="failed", detail__job=job.pk).exists()
    assert officer.get(reverse("trace_report", args=[job.pk])).status_code == 404

    def crash(*args, **kwargs):
        raise RuntimeError("something broke\nbadly")

    monkeypatch.setattr(tracing, "load_suspect", crash)
    _upload(officer, world.unit1, SimpleUploadedFile("again.mp4", _small_video()))
    assert jobs.run_pending() == 1
    crashed = TraceJob.objects.get(suspects__0__name="again.mp4")
    assert crashed.status == "failed" and "RuntimeError" in crashed.error and "\n" not in crashed.error
    page = officer.get(reverse("trace_job", args=[crashed.pk]))
    assert page.status_code == 200 and crashed.error in page.content.decode()


def test_without_chromium_the_pdf_link_says_so_and_the_report_stays(world, settings):
    settings.CRADLE = dataclasses.replace(settings.CRADLE, chromium="/nonexistent/chromium")
    job = TraceJob.objects.create(
        unit=world.unit1,
        status="done",
        report={
            "verdict": "inconclusive",
            "reason": "-",
            "account": None,
            "candidates": [],
            "candidate_count": 0,
            "suspects": [],
            "audit_trail": [],
        },
    )
    officer = world.client("privacy")
    response = officer.get(reverse("trace_report_pdf", args=[job.pk]), follow=True)
    assert response.redirect_chain == [(reverse("trace_report", args=[job.pk]), 302)]
    assert "Chromium is not installed on this server" in response.content.decode()
    assert not Event.objects.filter(action="trace.report_download").exists()


def test_the_report_says_each_bit_as_read_with_its_reason_in_the_readers_language(world):
    segments = [
        {"index": 3, "z": 5.64, "bit": None, "candidates": {"viewer1": "A"}},  # written before A was kept as "A"
        {"index": 4, "z": -4.5, "bit": "B", "candidates": {"viewer1": "B"}},
        {"index": 5, "z": 1.2, "bit": None, "candidates": {"viewer1": None}},
    ]
    job = TraceJob.objects.create(
        unit=world.unit1,
        status="done",
        report={
            "verdict": "inconclusive",
            "reason": "too few readable segments (2; at least 14 are needed)",
            "reason_code": "too_few",
            "reason_args": {"readable": 2, "needed": 14},
            "account": None,
            "candidates": [{"account": "viewer1", "readable": 2, "matches": 2, "p_innocent": 0.25}],
            "candidate_count": 1,
            "suspects": [{"file": "a.mp4", "camera": 1, "bed": "7", "offset_s": -0.0001, "segments": segments}],
            "audit_trail": [],
        },
    )
    officer = world.client("privacy")
    english = officer.get(reverse("trace_report", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rows = english.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert [("unreadable" in row, ">A<" in row, ">B<" in row) for row in rows] == [
        (False, True, False),
        (False, False, True),
        (True, False, False),
    ]
    assert "starts 0.00 s" in english and "-0.0" not in english
    assert "too few readable segments (2; at least 14 are needed)" in english

    officer.cookies["django_language"] = "zh-hans"
    chinese = officer.get(reverse("trace_report", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "可读片段太少（2 个；至少需要 14 个）" in chinese
    assert "too few readable segments" not in chinese and "-0.0" not in chinese


def test_a_graded_verdict_says_plainly_how_strong_it_is_and_names_nobody(world):
    args = {"account": "viewer3", "strength": "weak", "matches": 6, "readable": 6, "odds": 64, "others": 7}
    job = TraceJob.objects.create(
        unit=world.unit1,
        status="done",
        report={
            "verdict": "consistent",
            "reason": "consistent with viewer3 (weak evidence): ...",
            "reason_code": "consistent",
            "reason_args": args,
            "account": None,
            "consistent_with": "viewer3",
            "candidates": [{"account": "viewer3", "readable": 6, "matches": 6, "p_innocent": 1 / 64}],
            "candidate_count": 8,
            "suspects": [],
            "audit_trail": [],
        },
    )
    officer = world.client("privacy")
    english = officer.get(reverse("trace_report", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "consistent with the account viewer3, but the evidence is too short to name it" in english
    assert "6 of 6 readable segments match; an innocent account matches as well with probability 1/64" in english
    assert "7 other accounts" in english and "Identified" not in english and "Audit trail of" not in english
    listing = officer.get(reverse("traces"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "consistent with: viewer3" in listing

    officer.cookies["django_language"] = "zh-hans"
    chinese = officer.get(reverse("trace_report", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "分级结论" in chinese and "1/64" in chinese and "证据强度：弱" in chinese
    assert "consistent with" not in chinese
