"""A privacy officer looks up a visible viewer code (burned into keepsakes, drawn by the player) and gets the session
and account behind it: among the accounts of the officer's units only, every look-up audited."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.forensics import codes
from cradle.unit.models import StaffMembership
from cradle.viewing import delivery
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


def _parents_code(world) -> tuple[str, DeviceSession]:
    client = world.client("parent_a")
    device = DeviceSession.objects.get(session_key=client.session.session_key)
    return delivery.viewer_code(device), device


def test_an_officer_finds_the_session_and_account_behind_a_code_and_the_look_up_is_audited(world):
    code, device = _parents_code(world)
    officer = world.client("privacy")
    page = officer.get(reverse("trace_code"), {"code": code.lower().replace("-", "")}).content.decode()
    assert world.families["a"].parent.username in page and device.public_id in page
    event = Event.objects.get(action="trace.code_lookup", actor_id=world.users["privacy"].pk)
    assert event.detail["code"] == code and event.detail["accounts"] == [world.families["a"].parent.username]


def test_a_code_burned_with_its_date_is_taken_as_typed_from_the_picture(world):
    code, _ = _parents_code(world)
    assert codes.normalise(f"Cradle {code} 2026-12-06") == code
    assert [o.account for o in codes.owners(code)] == [world.families["a"].parent.username]


def test_what_is_not_a_code_is_said_so_and_nothing_is_looked_up(world):
    page = world.client("privacy").get(reverse("trace_code"), {"code": "hello"}).content.decode()
    assert "not a viewer code" in page
    assert not Event.objects.filter(action="trace.code_lookup").exists()


def test_an_officer_of_another_unit_does_not_learn_whose_code_it_is(world):
    code, _ = _parents_code(world)
    officer = make_user("privacy2", totp=True)
    StaffMembership.objects.create(user=officer, unit=world.unit2, role=StaffMembership.Role.PRIVACY_OFFICER)
    client = world.client(None)
    sign_in(client, officer)
    page = client.get(reverse("trace_code"), {"code": code}).content.decode()
    assert world.families["a"].parent.username not in page and "No session" in page


def test_families_and_nurses_cannot_look_up_codes(world):
    code, _ = _parents_code(world)
    for who in ("parent_a", "nurse1"):
        assert world.client(who).get(reverse("trace_code"), {"code": code}).status_code == 404


def test_the_command_looks_up_a_code_in_one_line_or_as_json(world, capsys):
    code, device = _parents_code(world)
    call_command("trace", "--code", code)
    out = capsys.readouterr().out
    assert world.families["a"].parent.username in out and device.public_id in out
    call_command("trace", "--code", code, "--json")
    found = json.loads(capsys.readouterr().out)
    assert found["code"] == code and found["sessions"][0]["session"] == device.public_id
    with pytest.raises(CommandError, match="not a viewer code"):
        call_command("trace", "--code", "nonsense")
    assert Event.objects.filter(action="trace.code_lookup").count() == 2
