"""The audit log is true from the first event: every account, unit, bed, camera, admission and staff role has a
creation event, whichever way it was made (the demo, `cradle init`, the nurse's and the joining pages, commands; the
hospital's admission feed and directory are proved in their own test modules), and a fresh demo verifies."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from cradle.accounts.models import User
from cradle.audit.creation import acting
from cradle.audit.models import Event
from cradle.unit.models import Admission, Bed, Camera, StaffMembership, Unit
from tests.test_invitations import issue_from_bed_page, redeem

CRADLE = Path(sys.executable).with_name("cradle")

# Each audited kind of thing: its table, and the creation event that names it (the detail key holding its id).
KINDS = {
    "account": ("accounts_user", "account.created", "account"),
    "unit": ("unit_unit", "unit.created", None),
    "bed": ("unit_bed", "bed.created", "bed_id"),
    "camera": ("unit_camera", "camera.created", "camera"),
    "admission": ("unit_admission", "admission.created", None),
}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CRADLE), *args], env=env, capture_output=True, text=True, timeout=180)


def unaudited(db: sqlite3.Connection) -> dict[str, set[int]]:
    """The ids of every object of an audited kind that no creation event names."""
    events = [
        (action, unit, admission, json.loads(detail))
        for action, unit, admission, detail in db.execute(
            "SELECT action, unit_id, admission_id, detail FROM audit_event"
        )
    ]
    missing = {}
    for kind, (table, action, key) in KINDS.items():
        ids = {row[0] for row in db.execute(f"SELECT id FROM {table}")}
        if kind == "unit":
            named = {u for a, u, _, _ in events if a == action}
        elif kind == "admission":
            named = {adm for a, _, adm, _ in events if a == action}
        else:
            named = {d.get(key) for a, _, _, d in events if a == action}
        missing[kind] = ids - named
    return missing


@pytest.mark.nodb
def test_a_fresh_demo_passes_audit_verify_and_audits_everything_it_made(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRADLE_", "DATABASE_URL", "REDIS_URL"))}
    env["CRADLE_DATA_DIR"] = str(tmp_path / "data")
    init = _run(env, "init")
    assert init.returncode == 0, init.stderr
    assert _run(env, "audit", "verify").returncode == 0  # `cradle init` alone: nothing made, nothing missing
    demo = _run(env, "demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    verified = _run(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    with sqlite3.connect(tmp_path / "data" / "cradle.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM accounts_user").fetchone()[0] >= 5
        assert unaudited(db) == {kind: set() for kind in KINDS}
        vias = {json.loads(d).get("via") for (d,) in db.execute("SELECT detail FROM audit_event")}
        assert vias == {"command:demo"}
    # Starting the demo again makes nothing new, so writes no second creation event.
    assert _run(env, "demo", "--no-serve").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "cradle.sqlite3") as db:
        created = db.execute("SELECT count(*) FROM audit_event WHERE action LIKE '%.created'").fetchone()[0]
        objects = sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t, _, _ in KINDS.values())
        assert created == objects


def test_the_nurse_admitting_a_baby_is_the_creator_of_its_admission(world):
    nurse = world.client("nurse1")
    bed = Bed.objects.create(unit=world.unit1, label="9")
    assert nurse.post(reverse("admit", args=[bed.pk]), {"nickname": "", "inpatient_number": ""}).status_code == 302
    admission = Admission.objects.get(bed=bed)
    event = Event.objects.get(action="admission.created", admission_id=admission.pk)
    assert event.actor_id == world.users["nurse1"].pk and event.unit_id == world.unit1.pk
    assert event.detail["via"] == "web" and event.detail["bed"] == "9" and event.session


def test_a_refused_admission_leaves_no_creation_event(world):
    """The bed is taken: the creation is rolled back, and its event with it; the next free bed's admission has one."""
    nurse = world.client("nurse1")
    nurse.post(reverse("admit", args=[world.families["a"].bed.pk]), {"nickname": "", "inpatient_number": ""})
    free = Bed.objects.create(unit=world.unit1, label="10")
    nurse.post(reverse("admit", args=[free.pk]), {"nickname": "", "inpatient_number": ""})
    events = Event.objects.filter(action="admission.created", detail__via="web")
    assert [e.detail["bed"] for e in events] == ["10"]


def test_an_account_made_by_joining_is_audited(world):
    nurse = world.client("nurse1")
    code, _ = issue_from_bed_page(nurse, world.families["a"].admission)
    redeem(code, username="joined")
    user = User.objects.get(username="joined")
    event = Event.objects.get(action="account.created", detail__account=user.pk)
    assert event.detail["via"] == "web" and event.ip == "127.0.0.1"


def test_things_made_by_a_command_or_a_shell_are_audited_as_such(db):
    with acting("command:shell"):
        unit = Unit.objects.create(name="Paediatric ICU", code="picu")
        bed = Bed.objects.create(unit=unit, label="1")
        camera = Camera.objects.create(bed=bed, source_url="rtsp://user:secret@camera.example/1")
        user = User.objects.create_user("picu-admin", "x" * 12, display_name="Admin")
        StaffMembership.objects.create(user=user, unit=unit, role=StaffMembership.Role.ADMINISTRATOR)
    events = {e.action: e for e in Event.objects.all()}
    assert events["unit.created"].unit_id == unit.pk
    assert events["bed.created"].detail["bed_id"] == bed.pk
    assert events["camera.created"].detail["camera"] == camera.pk
    assert events["staff.role_granted"].detail == {
        "via": "command:shell",
        "account": user.pk,
        "role": "administrator",
    }
    assert all(e.detail["via"] == "command:shell" for e in events.values())
    # A camera's address may carry its password: it is never written to the log.
    assert "secret" not in json.dumps([e.detail for e in events.values()])
    StaffMembership.objects.filter(user=user).delete()
    assert Event.objects.filter(action="staff.role_removed", detail__account=user.pk).exists()
