"""The attack: failed second-factor attempts are not audited.

Nine wrong authenticator codes typed after the right password left no event at all: a privacy officer could not see
that someone knew a family member's password. Each failed second step is now an audit event (outcome "failed", never
the code typed), at sign-in and when a signed-in person confirms a sensitive change.
"""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from cradle.audit.models import Event
from tests.conftest import PASSWORD, SECOND_STEP, SIGN_IN, sign_in

WRONG = [f"{n:06d}" for n in range(123450, 123459)]


def test_nine_wrong_codes_after_the_right_password_are_nine_audit_events(world):
    relative = world.users["relative_a"]
    c = Client()
    assert c.post(SIGN_IN, {"login": "relative_a", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9")[
        "Location"
    ].startswith(SECOND_STEP)
    for code in WRONG:
        c.post(SECOND_STEP, {"code": code}, REMOTE_ADDR="203.0.113.9")

    events = Event.objects.filter(actor_id=relative.pk, action__startswith="account.second_step")
    failed = events.filter(action="account.second_step_failed")
    # The first five are checked and wrong; the rest are not checked at all (the budget from unknown devices is
    # spent), and are audited as refused.
    assert failed.count() == 5
    assert events.filter(action="account.second_step_throttled", outcome="denied").count() == 4
    for event in failed:
        assert event.outcome == "failed" and event.ip == "203.0.113.9" and event.unit_id is None
        assert event.detail == {"method": "code", "reauthentication": False}
    # Never the code itself.
    assert not any(code in str(e.detail) for e in events for code in WRONG)


def test_a_wrong_code_when_confirming_a_sensitive_change_is_audited(world):
    relative = world.users["relative_a"]
    c = Client()
    sign_in(c, relative)
    assert c.post(reverse("mfa_reauthenticate"), {"code": "000000"}).status_code == 200
    event = Event.objects.get(action="account.second_step_failed", actor_id=relative.pk)
    assert event.outcome == "failed" and event.detail["reauthentication"] is True and event.session


def test_a_failed_passkey_at_the_second_step_is_audited(world):
    parent = world.users["parent_a"]
    c = Client()
    assert c.post(SIGN_IN, {"login": "parent_a", "password": PASSWORD})["Location"].startswith(SECOND_STEP)
    c.get(SECOND_STEP)  # the page asks the browser for the passkey
    assert c.post(SECOND_STEP, {"credential": '{"id": "forged"}'}).status_code == 200
    event = Event.objects.get(action="account.second_step_failed", actor_id=parent.pk)
    assert event.detail == {"method": "passkey", "reauthentication": False}


def test_a_malformed_passkey_answer_is_a_wrong_answer_not_a_server_error(world):
    c = Client()
    assert c.post(reverse("mfa_login_webauthn"), {"credential": '{"id": "forged"}'}).status_code == 302
    sign_in(c, world.users["relative_a"])
    assert c.post(reverse("mfa_add_webauthn"), {"credential": '{"id": "forged"}'}).status_code == 200
