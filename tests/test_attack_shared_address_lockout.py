"""The attack: one address locks everyone out, known devices included.

A hospital's Wi-Fi puts every parent behind one address. Fifty failed sign-ins for made-up usernames from it, and the
real parent's phone, which has signed in before, got "Too many failed login attempts" for a quarter of an hour; someone
who knew a password blocked the owner's second step for five minutes with wrong codes. Every request here goes through
the real sign-in forms, with real authenticator codes.
"""

from __future__ import annotations

from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import reverse

from cradle.audit.models import Event
from tests.conftest import PASSWORD, SECOND_STEP, SIGN_IN, TOTP_SECRET, sign_in_by_form, totp_code

HOSPITAL_WIFI = "10.20.0.1"
ELSEWHERE = "198.51.100.23"


def signed_in(client: Client) -> bool:
    return client.get(reverse("devices")).status_code == 200


def parents_phone(world, address: str = HOSPITAL_WIFI) -> Client:
    """Family A's parent, who uses an authenticator app, has signed in on this phone before and signed out."""
    TOTP.activate(world.users["parent_a"], TOTP_SECRET)
    phone = Client()
    assert sign_in_by_form(phone, "parent_a", REMOTE_ADDR=address).status_code == 302
    assert signed_in(phone)
    phone.post(reverse("account_logout"), REMOTE_ADDR=address)
    assert not signed_in(phone)
    return phone


def test_fifty_failed_sign_ins_from_the_wards_address_do_not_lock_out_a_phone_that_signed_in_before(world):
    phone = parents_phone(world)
    for i in range(50):
        Client().post(SIGN_IN, {"login": f"made-up-{i}", "password": "guess"}, REMOTE_ADDR=HOSPITAL_WIFI)

    # The address's budget is spent: a new device behind it is refused, so one address still cannot spray accounts.
    stranger = Client()
    refused = sign_in_by_form(stranger, "relative_a", REMOTE_ADDR=HOSPITAL_WIFI)
    assert refused.status_code == 200 and "too many" in refused.content.decode().lower()
    assert not signed_in(stranger)

    # The parent's phone, behind the same address, signs in at once.
    response = sign_in_by_form(phone, "parent_a", REMOTE_ADDR=HOSPITAL_WIFI)
    assert response.status_code == 302, response.content.decode()[:300]
    assert signed_in(phone)
    assert Event.objects.filter(action="account.login", actor_id=world.users["parent_a"].pk).count() == 2


def test_wrong_codes_typed_elsewhere_do_not_lock_the_owner_out_of_their_second_step(world):
    phone = parents_phone(world)
    # Someone who knows the password types wrong codes from another device, far more than a 6-digit code allows.
    thief = Client()
    assert thief.post(SIGN_IN, {"login": "parent_a", "password": PASSWORD}, REMOTE_ADDR=ELSEWHERE).status_code == 302
    for _ in range(9):
        thief.post(SECOND_STEP, {"code": "000000"}, REMOTE_ADDR=ELSEWHERE)
    # The guessing is stopped for that device: even the right code is no longer checked there.
    stopped = thief.post(SECOND_STEP, {"code": totp_code()}, REMOTE_ADDR=ELSEWHERE)
    assert stopped.status_code == 200 and "too many" in stopped.content.decode().lower()
    assert not signed_in(thief)

    # The owner's phone, which signed in before, keeps its own budget and gets in with the right code.
    response = sign_in_by_form(phone, "parent_a", REMOTE_ADDR=HOSPITAL_WIFI)
    assert response.status_code == 302, response.content.decode()[:300]
    assert signed_in(phone)


def test_wrong_codes_on_the_owners_own_phone_are_limited_too(world, settings):
    phone = parents_phone(world)
    budget = settings.CRADLE.second_step_failures_per_account_device
    password_step = phone.post(SIGN_IN, {"login": "parent_a", "password": PASSWORD}, REMOTE_ADDR=HOSPITAL_WIFI)
    assert password_step["Location"].startswith(SECOND_STEP)
    for _ in range(budget):
        phone.post(SECOND_STEP, {"code": "000000"}, REMOTE_ADDR=HOSPITAL_WIFI)
    assert "too many" in phone.post(SECOND_STEP, {"code": totp_code()}).content.decode().lower()
    assert not signed_in(phone)
    assert Event.objects.filter(action="account.second_step_throttled", actor_id=world.users["parent_a"].pk).exists()


def test_passkey_sign_ins_from_the_wards_address_are_not_capped_for_everyone_behind_it(world):
    # A passkey has no secret to guess; a cap per address would only let one person there block every parent's passkey.
    for _ in range(30):
        Client().post(reverse("mfa_login_webauthn"), {"credential": "{}"}, REMOTE_ADDR=HOSPITAL_WIFI)
    response = Client().post(reverse("mfa_login_webauthn"), {"credential": "{}"}, REMOTE_ADDR=HOSPITAL_WIFI)
    assert response.status_code != 429
