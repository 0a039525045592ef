"""Every state a parent can meet, walked on phones in both languages against the real pipeline and background queue.

The browser side is tests/e2e/states_walk.mjs. This test gives it a ward (a baby and a twin, two parents with
recovery codes, two relatives, a nurse), runs the pipeline worker and the background queue in threads, and offers
the flow two switches through files: "checking" makes the text detector fail (so redaction fails closed to the
privacy screen), "no-worker" stops the pipeline worker (so no picture comes). Afterwards it checks what the walk
left behind: who watched counts viewings, the status checks are audited on their own, the keepsake was made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

from cradle import tasks
from cradle.audit.models import Event
from cradle.audit.watching import watches
from cradle.media.errors import DetectorFailed
from cradle.media.redact import DetectorPool
from cradle.media.redact.pool import WardDetectors
from cradle.unit.models import Admission, Bed, Camera, FamilyMembership, StaffMembership, Unit
from cradle.viewing.models import Keepsake, LiveSegment
from cradle.worker.pipelines import Worker
from tests.conftest import PASSWORD, TOTP_SECRET, make_user
from tests.e2e.conftest import run_flow

FIRST_SEGMENTS_WAIT_S = 60


class Switchable:
    """The real text detector, failing while the flow's "checking" switch is on."""

    def __init__(self, failing: threading.Event) -> None:
        from cradle.media.redact.text import TextDetector

        self.inner = TextDetector()
        self.failing = failing

    def detect(self, image):
        if self.failing.is_set():
            raise DetectorFailed("the browser test switched the detector off")
        return self.inner.detect(image)


class Harness:
    """The pipeline worker and the background queue on threads, and the flow's two switches."""

    def __init__(self, control: Path) -> None:
        self.control = control
        self.failing = threading.Event()
        self.pool = DetectorPool(build=lambda: WardDetectors(Switchable(self.failing)), workers=1)
        self.stop = threading.Event()
        self.worker: tuple[Worker, threading.Event, threading.Thread] | None = None
        self.threads = [
            threading.Thread(target=tasks.run_queue, args=(self.stop, 0.5), name="e2e queue", daemon=True),
            threading.Thread(target=self._watch, name="e2e switches", daemon=True),
        ]

    def start(self) -> None:
        self._start_worker()
        for thread in self.threads:
            thread.start()

    def _start_worker(self) -> None:
        stop = threading.Event()
        worker = Worker(pool=self.pool)
        thread = threading.Thread(target=worker.run_forever, args=(stop, 1.0), name="e2e worker", daemon=True)
        thread.start()
        self.worker = (worker, stop, thread)

    def _stop_worker(self) -> None:
        if self.worker is not None:
            _worker, stop, thread = self.worker
            stop.set()
            thread.join(timeout=20)
            self.worker = None

    def _watch(self) -> None:
        while not self.stop.is_set():
            if (self.control / "checking").exists():
                self.failing.set()
            else:
                self.failing.clear()
            wanted = not (self.control / "no-worker").exists()
            if wanted and self.worker is None:
                self._start_worker()
            elif not wanted and self.worker is not None:
                self._stop_worker()
            self.stop.wait(0.2)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self._stop_worker()
        self.pool.close()


@pytest.fixture
def harness(transactional_db, tmp_path) -> Iterator[Harness]:
    control = tmp_path / "control"
    control.mkdir()
    running = Harness(control)
    running.start()
    try:
        yield running
    finally:
        running.close()


def _wait_for_segments(admission: Admission) -> None:
    deadline = time.monotonic() + FIRST_SEGMENTS_WAIT_S
    while LiveSegment.objects.filter(admission=admission).count() < 2:
        if time.monotonic() > deadline:
            pytest.fail(f"No live segments for {admission} within {FIRST_SEGMENTS_WAIT_S} s; see the worker's log.")
        time.sleep(0.25)


@pytest.mark.e2e
def test_every_state_on_phones_in_english_and_chinese(browser_tools, live_server, harness) -> None:
    unit = Unit.objects.create(name="Neonatal ICU", code="nicu")
    nurse = make_user("nurse_walk", "Nurse Chen", totp=True)
    StaffMembership.objects.create(user=nurse, unit=unit, role=StaffMembership.Role.NURSE)
    bed = Bed.objects.create(unit=unit, label="7")
    Camera.objects.create(bed=bed, source_url="sim://walk-bed?size=320x240&fps=10&lang=zh")
    admission = Admission.objects.create(unit=unit, bed=bed, admitted_by=nurse)
    # The twin's camera is tiny: it costs the machine almost nothing and is live all the same.
    twin_bed = Bed.objects.create(unit=unit, label="8")
    Camera.objects.create(bed=twin_bed, source_url="sim://walk-twin?size=96x72&fps=2")
    twin = Admission.objects.create(unit=unit, bed=twin_bed, admitted_by=nurse, nickname="Twin")
    people = {}
    for key, username, name, role in (
        ("PARENT_EN", "mum_walk", "Mum", FamilyMembership.Role.PARENT),
        ("PARENT_ZH", "ba_walk", "爸爸", FamilyMembership.Role.PARENT),
        ("RELATIVE_EN", "gran_walk", "Gran", FamilyMembership.Role.RELATIVE),
        ("RELATIVE_ZH", "nainai_walk", "奶奶", FamilyMembership.Role.RELATIVE),
    ):
        user = make_user(username, name, totp=True)
        FamilyMembership.objects.create(user=user, admission=admission, role=role)
        if role == FamilyMembership.Role.PARENT:
            FamilyMembership.objects.create(user=user, admission=twin, role=role)
        people[key] = user
    codes = {
        key: RecoveryCodes.activate(people[key]).get_unused_codes() for key in ("PARENT_EN", "PARENT_ZH")
    }
    _wait_for_segments(admission)
    _wait_for_segments(twin)

    out = run_flow(
        "states_walk.mjs",
        {
            "BASE_URL": live_server.url,
            "ADMISSION_ID": str(admission.pk),
            "TWIN_ID": str(twin.pk),
            "BED_ID": str(bed.pk),
            "CONTROL_DIR": str(harness.control),
            "NURSE_USERNAME": nurse.username,
            "PASSWORD": PASSWORD,
            "TOTP_SECRET": TOTP_SECRET,
            **{key: user.username for key, user in people.items()},
            "RECOVERY_EN": ",".join(codes["PARENT_EN"]),
            "RECOVERY_ZH": ",".join(codes["PARENT_ZH"]),
        },
        timeout=480,
    )
    assert "States walk passed" in out

    mum = people["PARENT_EN"]
    # The player asked every few seconds, and each check is audited under its own action...
    checks = Event.objects.filter(action="baby.status", actor_id=mum.pk, admission_id=admission.pk)
    assert checks.count() >= 10
    assert {"live", "checking", "paused", "unavailable"} <= {e.detail.get("state") for e in checks}
    # ... while "Who watched" lists viewings: a handful of rows for her sessions, not one per check.
    hers = [w for w in watches(admission.pk) if w.actor_id == mum.pk]
    assert 0 < len(hers) <= 12 < checks.count()
    keepsake = Keepsake.objects.get(user=mum)
    assert keepsake.state == Keepsake.State.READY and keepsake.progress == 100
    assert Event.objects.filter(action="clip.keepsake_download", actor_id=mum.pk, outcome="ok").exists()
