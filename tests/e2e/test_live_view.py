"""Live viewing end to end with the real pipeline: a parent watches, a nurse pauses, another family is refused.

The browser side is tests/e2e/live_view.mjs (Playwright). This test gives it a ward on a live server and runs the
pipeline worker (simulated camera, real text detector, marking and encoding) in a thread beside it, then checks what
the flow left behind: the overlay showed this session's viewer code, the pause was stored, and both refusals audited.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
from django.utils import timezone

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.media.redact import DetectorPool
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from cradle.viewing.delivery import viewer_code
from cradle.viewing.models import LiveSegment
from cradle.viewing.worker import Worker
from tests.conftest import PASSWORD, TOTP_SECRET, make_user
from tests.e2e.conftest import run_flow

FIRST_SEGMENTS = 2
FIRST_SEGMENTS_WAIT_S = 60


@pytest.fixture
def worker(transactional_db) -> Iterator[Worker]:
    """The pipeline worker on a thread, with one real rapidocr detector: every admitted bed's camera is recorded."""
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


def _wait_for_segments(admission: Admission, worker: Worker) -> None:
    deadline = time.monotonic() + FIRST_SEGMENTS_WAIT_S
    while time.monotonic() < deadline:
        if LiveSegment.objects.filter(admission=admission).count() >= FIRST_SEGMENTS:
            return
        time.sleep(0.25)
    made = LiveSegment.objects.filter(admission=admission).count()
    running = {camera_id: run.thread.is_alive() for camera_id, run in worker.runs.items()}
    pytest.fail(
        f"The pipeline made {made} live segments for the admission in {FIRST_SEGMENTS_WAIT_S} s, not "
        f"{FIRST_SEGMENTS}; camera threads alive: {running}. Check the worker's log above."
    )


@pytest.mark.e2e
def test_parent_watches_live_a_nurse_pauses_and_another_family_is_refused(
    browser_tools, transactional_db, live_server, worker
) -> None:
    unit = Unit.objects.create(name="Neonatal ICU", code="nicu")
    nurse = make_user("nurse_e2e", "Nurse Chen", totp=True)
    StaffMembership.objects.create(user=nurse, unit=unit, role=StaffMembership.Role.NURSE)

    bed = Bed.objects.create(unit=unit, label="7")
    camera = Camera.objects.create(
        bed=bed, source_url="sim://e2e-bed?size=320x240&fps=10&lang=zh", state=Camera.State.OFFLINE
    )
    admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse)
    parent = make_user("mum_e2e", "Mum", totp=True)
    FamilyMembership.objects.create(user=parent, admission=admission, role=FamilyMembership.Role.PARENT)

    other_bed = Bed.objects.create(unit=unit, label="8")
    Camera.objects.create(bed=other_bed, source_url="sim://e2e-other?size=160x120&fps=10", state=Camera.State.OFFLINE)
    other_admission = Admission.objects.create(unit=unit, bed=other_bed, admitted_by=nurse)
    other = make_user("dad_other_e2e", "Dad")
    FamilyMembership.objects.create(user=other, admission=other_admission, role=FamilyMembership.Role.PARENT)

    _wait_for_segments(admission, worker)

    out = run_flow(
        "live_view.mjs",
        {
            "BASE_URL": live_server.url,
            "ADMISSION_ID": str(admission.pk),
            "BED_ID": str(bed.pk),
            "PARENT_USERNAME": parent.username,
            "PARENT_PASSWORD": PASSWORD,
            "PARENT_TOTP_SECRET": TOTP_SECRET,
            "NURSE_USERNAME": nurse.username,
            "NURSE_PASSWORD": PASSWORD,
            "NURSE_TOTP_SECRET": TOTP_SECRET,
            "OTHER_USERNAME": other.username,
            "OTHER_PASSWORD": PASSWORD,
        },
        timeout=120,
    )

    # The overlay named the parent's own browser session, so a photo of the screen names it too.
    shown = re.search(r"^viewer code: (\S+)$", out, re.MULTILINE)
    assert shown, f"The flow did not report the overlay's viewer code.\n{out}"
    sessions = DeviceSession.objects.filter(user=parent, ended_at__isnull=True)
    assert shown[1] in {viewer_code(d) for d in sessions}

    camera.refresh_from_db()
    assert camera.pause_reason == "care"
    assert camera.paused_until > timezone.now()

    refused = Event.objects.filter(actor_id=other.pk, admission_id=admission.pk, outcome=Event.Outcome.DENIED)
    assert refused.filter(action="live.playlist").exists()
    assert Event.objects.filter(actor_id=other.pk, action="live.segment", outcome=Event.Outcome.DENIED).exists()
