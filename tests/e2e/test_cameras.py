"""Cameras end to end: a real RTSP camera (GStreamer's RTSP server) and the real pipeline worker beside a live server.

The browser side is tests/e2e/cameras.mjs (Playwright): an administrator adds the RTSP camera with its password and
checks it; a parent watches; the nurse sees the family's picture on the bed page, draws a shown area with a finger on
a phone-sized tablet screen, and the parent's picture changes; the board fits a 390 px phone in English and Chinese and
a wall screen. This test starts the camera and the worker and checks what the flow left behind.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator

import pytest

from cradle.audit.models import Event
from cradle.media.redact import DetectorPool
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from cradle.viewing.camera_config import camera_policy
from cradle.worker.pipelines import Worker
from tests.conftest import PASSWORD, TOTP_SECRET, make_user
from tests.e2e.conftest import ROOT, run_flow
from tests.rtsp_camera import RtspCamera, free_port, needs_rtsp_server, write_ward_file

CAMERA = "sim://ward-rtsp?size=640x480&fps=15&lang=zh"


@pytest.fixture
def worker(transactional_db) -> Iterator[Worker]:
    stop = threading.Event()
    worker = Worker(pool=DetectorPool(workers=1))
    thread = threading.Thread(target=worker.run_forever, args=(stop, 1.0), name="e2e worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=20)
        worker.pool.close()


@pytest.fixture
def rtsp(tmp_path) -> Iterator[RtspCamera]:
    camera = RtspCamera(write_ward_file(tmp_path / "ward.mp4", CAMERA, 40), free_port()).start()
    yield camera
    camera.stop()


@needs_rtsp_server
@pytest.mark.e2e
def test_rtsp_camera_set_up_checked_watched_and_zoned(
    browser_tools, transactional_db, live_server, worker, rtsp, settings, tmp_path
) -> None:
    settings.CRADLE = dataclasses.replace(settings.CRADLE, camera_config_dir=str(tmp_path / "cameras"))
    unit = Unit.objects.create(name="Neonatal ICU", name_zh_hans="新生儿重症监护室", code="nicu")
    admin = make_user("admin_e2e", "Sam Admin", totp=True)
    StaffMembership.objects.create(user=admin, unit=unit, role=StaffMembership.Role.ADMINISTRATOR)
    nurse = make_user("nurse_e2e", "Nurse Chen", totp=True)
    StaffMembership.objects.create(user=nurse, unit=unit, role=StaffMembership.Role.NURSE)
    nurse_zh = make_user("nurse_zh_e2e", "王护士", totp=True)
    StaffMembership.objects.create(user=nurse_zh, unit=unit, role=StaffMembership.Role.NURSE)
    others = {}
    for role in ("wall", "phone"):
        others[role] = make_user(f"nurse_{role}_e2e", f"Nurse {role}", totp=True)
        StaffMembership.objects.create(user=others[role], unit=unit, role=StaffMembership.Role.NURSE)
    bed = Bed.objects.create(unit=unit, label="3")
    admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse, nickname="Mei")
    parent = make_user("mum_e2e", "Mum", totp=True)
    FamilyMembership.objects.create(user=parent, admission=admission, role=FamilyMembership.Role.PARENT)
    for label in ("4", "5", "6", "7", "8"):
        Camera.objects.create(bed=Bed.objects.create(unit=unit, label=label), source_url=f"sim://free-{label}")
    flow = {
        "BASE_URL": live_server.url,
        "ARTIFACTS": str(ROOT / "artifacts" / "e2e" / "cameras"),
        "UNIT_ID": str(unit.pk),
        "BED_ID": str(bed.pk),
        "ADMISSION_ID": str(admission.pk),
        "RTSP_URL": f"rtsp://127.0.0.1:{rtsp.port}{rtsp.path}",
        "RTSP_USER": rtsp.user,
        "RTSP_PASSWORD": rtsp.password,
        "ADMIN_USERNAME": admin.username,
        "NURSE_USERNAME": nurse.username,
        "NURSE_ZH_USERNAME": nurse_zh.username,
        "NURSE_WALL_USERNAME": others["wall"].username,
        "NURSE_PHONE_USERNAME": others["phone"].username,
        "PARENT_USERNAME": parent.username,
        "PASSWORD": PASSWORD,
        "TOTP_SECRET": TOTP_SECRET,
    }
    out = run_flow("cameras.mjs", flow, timeout=420)
    camera = Camera.objects.get(bed=bed)
    # The camera was set up through the page: its password sealed apart from its address, never in the audit log.
    assert camera.source_url == flow["RTSP_URL"] and camera.has_credentials
    assert rtsp.password not in str(list(Event.objects.values_list("detail", flat=True)))
    assert Event.objects.filter(action="camera.checked", detail__ok=True, actor_id=admin.pk).exists()
    # The nurse's shown area is the camera's, audited with before and after.
    assert camera_policy(camera.pk).shown_area is not None
    change = Event.objects.get(action="camera.zones_changed", actor_id=nurse.pk)
    assert change.detail["before"]["shown_area"] is None and change.detail["after"]["shown_area"]
    # The nurse watched through the family's delivery, audited under the nurse's name.
    assert Event.objects.filter(action="live.segment", actor_id=nurse.pk, outcome="ok").exists()
    latency = re.search(r"^zone change seen by the family after (\d+\.\d) s$", out, re.MULTILINE)
    assert latency, out
