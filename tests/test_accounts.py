"""Sign-in: throttling without lock-out, fresh session ids, idle and absolute expiry, ending sessions, staff MFA."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from cradle import settings as product_settings
from cradle.accounts.models import DeviceSession, User
from cradle.audit.models import Event
from tests.conftest import PASSWORD, TOTP_SECRET, make_user, sign_in_by_form, totp_code

LOGIN = "/accounts/login/"


def login(client: Client, username: str, password: str = PASSWORD, **extra):
    """The password step alone."""
    return client.post(LOGIN, {"login": username, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return client.get(reverse("devices")).status_code == 200


# --- Throttling ---------------------------------------------------------------------------------------------------

LIMITS = dataclasses.replace(
    product_settings.CRADLE,
    login_failures_per_account_device=3,
    login_failures_per_account_unknown_devices=5,
    login_failures_per_address=8,
    login_throttle_window_seconds=900,
)


@override_settings(CRADLE=LIMITS)
def test_guessing_from_other_devices_does_not_lock_the_family_member_out(world):
    parent = Client()
    assert sign_in_by_form(parent, "relative_a").status_code == 302  # the parent's phone now carries a device cookie
    parent.post(reverse("account_logout"))

    # An attacker guesses from several addresses until the account is closed to unknown devices.
    for i in range(LIMITS.login_failures_per_account_unknown_devices):
        login(Client(), "relative_a", "wrong password", REMOTE_ADDR=f"203.0.113.{i}")
    blocked = login(Client(), "relative_a", PASSWORD, REMOTE_ADDR="203.0.113.99")
    assert blocked.status_code == 200 and "too many" in blocked.content.decode().lower()

    # The parent's own phone still gets in with the right password.
    assert sign_in_by_form(parent, "relative_a").status_code == 302
    assert signed_in(parent)
    assert (
        Event.objects.filter(action="account.login_failed").count()
        == LIMITS.login_failures_per_account_unknown_devices
    )
    assert Event.objects.filter(action="account.login_throttled").exists()


@override_settings(CRADLE=LIMITS)
def test_a_known_device_is_throttled_on_its_own_budget(world):
    phone = Client()
    assert sign_in_by_form(phone, "relative_a").status_code == 302
    phone.post(reverse("account_logout"))
    for _ in range(LIMITS.login_failures_per_account_device):
        login(phone, "relative_a", "wrong")
    response = login(phone, "relative_a")
    assert response.status_code == 200 and not signed_in(phone)


@override_settings(CRADLE=LIMITS)
def test_one_address_cannot_spray_many_accounts(world):
    for i in range(LIMITS.login_failures_per_address):
        login(Client(), f"nobody{i}", "wrong", REMOTE_ADDR="198.51.100.7")
    c = Client()
    assert login(c, "relative_b", REMOTE_ADDR="198.51.100.7").status_code == 200
    assert not signed_in(c)
    other = Client()
    assert sign_in_by_form(other, "relative_b", REMOTE_ADDR="198.51.100.8").status_code == 302
    assert signed_in(other)


# --- Sessions -----------------------------------------------------------------------------------------------------


def test_sign_in_issues_a_fresh_session_id(world):
    c = Client()
    c.get(LOGIN)
    c.session.save()
    before = c.cookies["cradle_session"].value
    assert sign_in_by_form(c, "relative_a").status_code == 302
    after = c.cookies["cradle_session"].value
    assert before and after and before != after
    device = DeviceSession.objects.get(user=world.users["relative_a"], ended_at__isnull=True, session_key=after)
    assert device.idle_timeout_s == 30 * 60 and device.lifetime_s == 12 * 3600


def test_idle_timeout_signs_out(world):
    c = Client()
    sign_in_by_form(c, "relative_a")
    device = DeviceSession.objects.get(
        user=world.users["relative_a"], ended_at__isnull=True, session_key=c.session.session_key
    )
    DeviceSession.objects.filter(pk=device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=31))
    assert not signed_in(c)
    device.refresh_from_db()
    assert device.end_reason == DeviceSession.EndReason.IDLE
    assert Event.objects.filter(action="account.session_expired", detail__reason="idle").exists()


def test_activity_keeps_a_session_alive_until_its_absolute_lifetime(world):
    c = Client()
    sign_in_by_form(c, "relative_a")
    device = DeviceSession.objects.get(session_key=c.session.session_key)
    DeviceSession.objects.filter(pk=device.pk).update(
        created_at=timezone.now() - timedelta(hours=11, minutes=59), last_seen_at=timezone.now()
    )
    assert signed_in(c)
    DeviceSession.objects.filter(pk=device.pk).update(created_at=timezone.now() - timedelta(hours=12, minutes=1))
    assert not signed_in(c)
    device.refresh_from_db()
    assert device.end_reason == DeviceSession.EndReason.LIFETIME


def test_unit_settings_set_the_timeouts(world):
    world.unit1.idle_timeout_minutes = 10
    world.unit1.session_lifetime_hours = 4
    world.unit1.save()
    c = Client()
    sign_in_by_form(c, "relative_a")
    device = DeviceSession.objects.get(session_key=c.session.session_key)
    assert (device.idle_timeout_s, device.lifetime_s) == (600, 4 * 3600)
    DeviceSession.objects.filter(pk=device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=11))
    assert not signed_in(c)


def test_a_person_ends_another_of_their_devices(world):
    phone, laptop = Client(), Client()
    sign_in_by_form(phone, "relative_a")
    sign_in_by_form(laptop, "relative_a")
    laptop_device = DeviceSession.objects.get(session_key=laptop.session.session_key)
    page = phone.get(reverse("devices")).content.decode()
    assert laptop_device.public_id in page
    phone.post(reverse("end_device", args=[laptop_device.public_id]))
    assert not signed_in(laptop)
    assert signed_in(phone)


def test_a_parent_cannot_end_someone_elses_device(world):
    a, b = Client(), Client()
    sign_in_by_form(a, "relative_a")
    sign_in_by_form(b, "relative_b")
    b_device = DeviceSession.objects.get(session_key=b.session.session_key)
    assert a.post(reverse("end_device", args=[b_device.public_id])).status_code == 404
    assert signed_in(b)


def test_a_nurse_signs_a_family_member_out_everywhere(world):
    relative = Client()
    sign_in_by_form(relative, "relative_a")
    nurse = world.client("nurse1")
    membership = world.families["a"].relative_membership
    assert nurse.post(reverse("end_member_sessions", args=[membership.pk])).status_code == 302
    assert not signed_in(relative)
    assert Event.objects.filter(action="family.sessions_ended", admission_id=membership.admission_id).exists()
    # A nurse of another unit cannot.
    sign_in_by_form(relative, "relative_a")
    assert world.client("nurse2").post(reverse("end_member_sessions", args=[membership.pk])).status_code == 404
    assert signed_in(relative)


def test_sign_out_ends_the_device_session(world):
    c = Client()
    sign_in_by_form(c, "relative_a")
    key = c.session.session_key
    c.post(reverse("account_logout"))
    assert DeviceSession.objects.get(session_key=key).end_reason == DeviceSession.EndReason.LOGOUT


# --- MFA --------------------------------------------------------------------------------------------------------


def test_staff_sign_in_needs_the_second_factor(world):
    c = Client()
    response = login(c, "nurse1")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/")
    assert not signed_in(c)
    assert c.post("/accounts/2fa/authenticate/", {"code": "000000"}).status_code == 200
    assert not signed_in(c)
    c.post("/accounts/2fa/authenticate/", {"code": totp_code()})
    assert signed_in(c)


def test_staff_without_a_second_factor_must_enrol_before_anything_else(world):
    from cradle.unit.models import StaffMembership

    newcomer = make_user("newnurse")
    StaffMembership.objects.create(user=newcomer, unit=world.unit1, role="nurse")
    c = Client()
    login(c, "newnurse")
    response = c.get(reverse("board", args=[world.unit1.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert c.get(reverse("api:me")).status_code == 403
    assert c.get(reverse("mfa_activate_totp")).status_code in (200, 302)


def test_staff_cannot_remove_their_last_second_factor(world):
    from allauth.mfa.adapter import get_adapter
    from allauth.mfa.models import Authenticator

    nurse_totp = Authenticator.objects.get(user=world.users["nurse1"], type="totp")
    assert not get_adapter().can_delete_authenticator(nurse_totp)
    parent_key = Authenticator.objects.get(user=world.users["parent_a"], type="webauthn")
    assert get_adapter().can_delete_authenticator(parent_key)


def test_family_are_prompted_but_not_forced_where_the_unit_does_not_require_a_second_step(world):
    from allauth.mfa.models import Authenticator

    fam = world.families["a"]
    fam.unit.family_second_step = False
    fam.unit.save()
    Authenticator.objects.filter(user=fam.relative).delete()
    c = world.client("relative_a")
    assert c.get(reverse("baby", args=[fam.admission.pk])).status_code == 200
    assert c.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200


def test_password_reset_does_not_bypass_the_second_factor(world):
    nurse = world.users["nurse1"]
    nurse.email = "nurse1@hospital.example"
    nurse.save()
    c = Client()
    c.post(reverse("account_reset_password"), {"email": nurse.email})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/key/" in line).strip()
    path = link[link.index("/accounts/") :]
    response = c.get(path, follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else path
    new_password = "a much newer passphrase 42"
    response = c.post(form_path, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    assert not signed_in(c)  # a reset never signs anyone in
    response = login(c, "nurse1", new_password)
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert not signed_in(c)


def test_usernames_are_case_insensitive_at_sign_in(world):
    c = Client()
    assert sign_in_by_form(c, "RELATIVE_A").status_code == 302
    assert User.objects.filter(username="relative_a").count() == 1


def test_passwords_are_stored_with_argon2(world):
    from cradle import settings as product

    assert product.PASSWORD_HASHERS == ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    assert world.users["relative_a"].password.startswith("argon2$")


def test_second_factor_secrets_are_sealed_in_the_database(world):
    from allauth.mfa.models import Authenticator

    stored = Authenticator.objects.get(user=world.users["nurse1"], type="totp").data["secret"]
    assert stored.startswith("sealed1:") and TOTP_SECRET not in stored


@pytest.mark.parametrize(
    ("agent", "shown"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile "
            "Safari/537.36",
            "Chrome on an Android phone",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari on an iPhone",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
            "Safari/537.36 Edg/124.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148 MicroMessenger/8.0.47",
            "WeChat on an iPhone",
        ),
        ("", "Unknown device"),
    ],
)
def test_devices_are_named_as_people_know_them(world, agent, shown):
    client = Client(HTTP_USER_AGENT=agent)
    sign_in_by_form(client, "relative_a")
    page = client.get(reverse("devices")).content.decode()
    assert f"<strong>{shown}</strong>" in page
    assert "Mozilla/5.0" not in page and "from None" not in page
