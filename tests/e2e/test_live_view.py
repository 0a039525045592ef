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
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.utils import timezone

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.media.redact import DetectorPool
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from cradle.viewing.delivery import viewer_code
from cradle.viewing.models import LiveSegment
from cradle.worker.pipelines import Worker
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


@dataclass
class LiveWard:
    admission: Admission
    camera: Camera
    parent: object
    other: object
    flow: dict[str, str]


def live_ward(worker: Worker) -> LiveWard:
    """A unit with a nurse, a baby whose simulated camera is sending segments, and a parent of another baby."""
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
    flow = {
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
    }
    return LiveWard(admission, camera, parent, other, flow)


def check_live_flow(out: str, ward: LiveWard) -> None:
    """What the live flow must leave behind: the overlay named the session, the pause held, refusals audited."""
    admission, camera, parent, other = ward.admission, ward.camera, ward.parent, ward.other
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


@pytest.mark.e2e
def test_parent_watches_live_a_nurse_pauses_and_another_family_is_refused(
    browser_tools, transactional_db, live_server, worker
) -> None:
    ward = live_ward(worker)
    out = run_flow("live_view.mjs", {"BASE_URL": live_server.url, **ward.flow}, timeout=120)
    check_live_flow(out, ward)


@pytest.mark.e2e
def test_the_same_live_flow_through_nginx_in_edge_mode(
    browser_tools, transactional_db, live_server, worker, settings, tmp_path
) -> None:
    from tests.test_nginx import running_nginx

    edge_dir = tmp_path / "edge"
    edge_dir.mkdir()
    settings.EDGE_DIR = edge_dir
    settings.EDGE_LOCATION = "/_edge/"
    # nginx sends the static files, as `cradle collectstatic` leaves them for it.
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    ward = live_ward(worker)
    app = live_server.url.removeprefix("http://")
    with running_nginx(app, tmp_path / "nginx", edge_dir, settings.STATIC_ROOT, tls=False) as edge:
        out = run_flow("live_view.mjs", {"BASE_URL": edge.url, **ward.flow}, timeout=150)
    check_live_flow(out, ward)
    # The picture came through nginx: AES-128 copies on the edge's disk, the key fetched and audited, every segment
    # authorised and audited by the app first.
    assert list(edge_dir.glob("*/live/*.ts"))
    parent_events = Event.objects.filter(actor_id=ward.parent.pk, admission_id=ward.admission.pk, outcome="ok")
    assert parent_events.filter(action="live.key").exists()
    assert parent_events.filter(action="live.segment").exists()
