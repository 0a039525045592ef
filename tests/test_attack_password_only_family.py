"""The attack: family accounts watch live video with a password alone.

The second step was offered after joining, could be skipped, and live playlists and segments were then served
without it: a leaked or reset password was enough to watch a baby. A unit now requires a second step of its families
(on by default); units that existed before give a grace period with a reminder; a family member who removes their last
second step, or whose unit turns the rule on, loses the picture at the next request, the fast path included.
"""

from __future__ import annotations

import importlib
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.apps import apps as django_apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cradle.accounts.models import DeviceSession
from cradle.audit.models import Event
from cradle.unit.models import Unit
from cradle.viewing import delivery, edge, grants
from cradle.viewing.models import Revocation
from tests.conftest import PASSWORD, sign_in_by_form
from tests.test_fastpath import answered  # noqa: F401 - fixture
from tests.test_invitations import issue_from_bed_page
from tests.test_viewing import playlist_urls, stored

NEEDED = "second step needed"


def code_for(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def password_only(user) -> None:
    """The person has no passkey, authenticator app or recovery codes: their password is all there is."""
    Authenticator.objects.filter(user=user).delete()


def sign_in_by_form_client(username: str) -> Client:
    client = Client()
    sign_in_by_form(client, username)
    return client


def watching_on_the_fast_path(client: Client, fam, ways: list) -> list[str]:
    """Fetches the live playlist and segments until the fast path answers; gives the addresses not fetched yet. (A
    revocation written just before the grant, such as a second factor removed to set the test up, drops that grant
    when the fast path first reads the log: the full path answers once more and grants again.)"""
    urls = playlist_urls(client, fam)
    for url in urls[:3]:
        assert client.get(url).status_code == 200
    assert ways[-1] is True
    return urls[3:]


def refused(action: str, user) -> bool:
    return Event.objects.filter(action=action, actor_id=user.pk, outcome="denied", detail__reason=NEEDED).exists()


def test_a_parent_signed_in_with_a_password_alone_is_served_no_picture_anywhere(world):
    fam = world.families["a"]
    rows = stored(fam)
    password_only(fam.parent)
    client = Client()
    assert sign_in_by_form(client, "parent_a").status_code == 302  # no second step asked: they have none
    device = DeviceSession.objects.get(session_key=client.session.session_key, ended_at__isnull=True)

    # The baby's page says what to do, in place of the player and the clips (not a 404).
    page = client.get(reverse("baby", args=[fam.admission.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Add a second sign-in step to watch" in body and reverse("mfa_prompt") in body
    assert 'id="player"' not in body and reverse("clip", args=[fam.clip_id]) not in body
    assert refused("baby.view", fam.parent)

    # Live playlist, a live segment and its key, addressed to this very session: all refused and audited.
    assert client.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404
    assert refused("live.playlist", fam.parent)
    assert client.get(delivery.segment_url(device, rows[-1], 60)).status_code == 404
    assert refused("live.segment", fam.parent)
    key_epoch = edge.epoch_of(rows[-1].camera_id, rows[-1].started_at.timestamp(), 0)
    assert client.get(delivery.key_url(device, fam.admission.pk, key_epoch)).status_code == 404
    assert refused("live.key", fam.parent)

    # Clips and keepsakes alike.
    clip_page = client.get(reverse("clip", args=[fam.clip_id])).content.decode()
    assert "Add a second sign-in step to watch" in clip_page and 'id="player"' not in clip_page
    assert client.get(reverse("clip_playlist", args=[fam.clip_id])).status_code == 404
    assert refused("clip.playlist", fam.parent)
    assert client.post(reverse("keepsake", args=[fam.clip_id])).status_code == 404
    assert refused("clip.keepsake", fam.parent)

    # The JSON API tells an app the same.
    answer = client.get(reverse("api:admission", args=[fam.admission.pk])).json()
    assert answer["second_step_needed"] is True and answer["second_step_by"] is None

    # Another family's parent, with a passkey, still watches their own baby.
    other = world.families["b"]
    stored(other)
    assert playlist_urls(world.client("parent_b"), other)


def test_adding_an_authenticator_app_through_the_real_forms_opens_the_picture(
    world, django_capture_on_commit_callbacks
):
    fam = world.families["a"]
    stored(fam)
    password_only(fam.relative)
    client = sign_in_by_form_client("relative_a")
    assert client.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404

    # Adding a second step asks for the password again first.
    confirm = client.get(reverse("mfa_activate_totp"))
    assert confirm["Location"].startswith(reverse("account_reauthenticate"))
    client.post(confirm["Location"], {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp")).content.decode()
    link = re.search(r'href="(otpauth://[^"]+)"', page)[1].replace("&amp;", "&")
    secret = parse_qs(urlparse(link).query)["secret"][0]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_activate_totp"), {"code": code_for(secret)})
    assert response.status_code == 302
    assert client.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200
    assert Event.objects.filter(action="account.second_factor_added", actor_id=fam.relative.pk).exists()


def test_joining_leads_to_a_second_step_that_works_on_one_phone(world):
    fam = world.families["a"]
    stored(fam)
    code, _ = issue_from_bed_page(world.client("nurse1"), fam.admission, "relative")
    phone = Client()
    phone.post(reverse("join"), {"code": code})
    response = phone.post(
        reverse("join_account"),
        {
            "display_name": "Auntie",
            "username": "auntie",
            "password1": "a long family passphrase",
            "password2": "a long family passphrase",
        },
    )
    assert response["Location"] == reverse("mfa_prompt")

    # The next step: a passkey first where the phone can make one (shown by a script), else an authenticator app;
    # the page says the unit shows no picture before it.
    prompt = phone.get(reverse("mfa_prompt")).content.decode()
    assert prompt.index('id="passkey-choice"') < prompt.index('id="app-choice"')
    assert reverse("mfa_add_webauthn") in prompt and reverse("mfa_activate_totp") in prompt
    assert "only after this step" in prompt and "second-step.js" in prompt

    # On one phone: a button that opens the authenticator app, the whole key to read or copy, apps suggested.
    page = phone.get(reverse("mfa_activate_totp")).content.decode()
    link = re.search(r'href="(otpauth://totp/[^"]+)"', page)[1].replace("&amp;", "&")
    secret = parse_qs(urlparse(link).query)["secret"][0]
    assert re.search(rf'<textarea id="authenticator_secret"[^>]*readonly[^>]*>{secret}</textarea>', page)
    assert 'data-copy="authenticator_secret"' in page and "Microsoft Authenticator" in page
    assert 'alt="' in page and "data:image/svg+xml" in page  # the QR code for a second device

    # Recovery codes follow, with what they are for and a way on.
    response = phone.post(reverse("mfa_activate_totp"), {"code": code_for(secret)})
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    codes = phone.get(response["Location"]).content.decode()
    assert "lose your phone" in codes and "Each code works once" in codes
    assert f'href="{reverse("home")}"' in codes and 'id="recovery_codes"' in codes

    assert phone.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200


def test_families_of_a_unit_that_existed_before_get_a_grace_period_with_a_reminder(world, answered):  # noqa: F811
    fam = world.families["a"]
    stored(fam)
    password_only(fam.relative)
    grace = timezone.now() + timedelta(days=10)
    Unit.objects.filter(pk=fam.unit.pk).update(second_step_grace_until=grace)
    client = sign_in_by_form_client("relative_a")

    page = client.get(reverse("baby", args=[fam.admission.pk])).content.decode()
    assert "Please add one before then" in page and grace.strftime("%Y-%m-%d") in page and 'id="player"' in page
    urls = watching_on_the_fast_path(client, fam, answered)
    # The fast path's grant does not outlive the grace period.
    assert all(g.until <= grace.timestamp() for g in grants.cache().held())
    assert client.get(reverse("api:admission", args=[fam.admission.pk])).json()["second_step_by"]
    settings_page = world.client("admin").get(reverse("unit_settings", args=[fam.unit.pk])).content.decode()
    assert f"can still watch until {grace:%Y-%m-%d}" in settings_page

    # The grace period is over (moved here; in life, time passes): no picture from the next request on.
    unit = Unit.objects.get(pk=fam.unit.pk)
    unit.second_step_grace_until = timezone.now() - timedelta(seconds=1)
    unit.save()
    assert client.get(urls[0]).status_code == 404 and answered[-1] is False
    assert refused("live.segment", fam.relative)
    assert "Add a second sign-in step to watch" in client.get(reverse("baby", args=[fam.admission.pk])).content.decode()


def test_units_that_exist_when_the_rule_arrives_get_a_grace_period_and_new_units_none(world):
    migration = importlib.import_module("cradle.unit.migrations.0006_family_second_step")
    Unit.objects.update(second_step_grace_until=None)
    migration.grace_for_existing_units(django_apps, None)
    for unit in Unit.objects.all():
        assert unit.family_second_step
        assert timedelta(days=13) < unit.second_step_grace_until - timezone.now() <= timedelta(days=14)
    new = Unit.objects.create(name="Transitional care", code="tc")
    assert new.family_second_step and new.second_step_grace_until is None


def test_removing_the_last_second_step_ends_the_picture_at_the_next_request_on_the_fast_path_too(
    world,
    answered,  # noqa: F811
):
    fam = world.families["a"]
    stored(fam)
    client = world.client("relative_a")
    urls = watching_on_the_fast_path(client, fam, answered)

    # The relative removes their authenticator app with the real form (the session has just confirmed the password).
    assert client.post(reverse("mfa_deactivate_totp")).status_code == 302
    assert not Authenticator.objects.filter(user=fam.relative).exists()
    assert Revocation.objects.filter(kind="user", subject=str(fam.relative.pk)).exists()
    assert client.get(urls[0]).status_code == 404 and answered[-1] is False
    assert refused("live.segment", fam.relative)
    assert client.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404


def test_an_administrator_turning_the_rule_on_ends_the_picture_of_families_without_a_second_step(
    world,
    answered,  # noqa: F811
):
    fam = world.families["a"]
    stored(fam)
    Unit.objects.filter(pk=fam.unit.pk).update(family_second_step=False)
    password_only(fam.relative)
    relative = world.client("relative_a")
    urls = watching_on_the_fast_path(relative, fam, answered)

    admin = world.client("admin")
    url = reverse("unit_settings", args=[fam.unit.pk])
    page = admin.get(url).content.decode()
    assert 'name="family_second_step"' in page and "Families need a second sign-in step to watch" in page
    form = {
        "idle_timeout_minutes": 30,
        "session_lifetime_hours": 12,
        "relative_cap": 4,
        "parent_cap": 2,
        "grace_days": 30,
    }
    assert admin.post(url, {**form, "family_second_step": "on"}).status_code == 302
    changed = Event.objects.get(action="unit.settings_changed", unit_id=fam.unit.pk)
    assert changed.detail == {"family_second_step": True} and changed.actor_id == world.users["admin"].pk

    assert relative.get(urls[0]).status_code == 404 and answered[-1] is False
    assert refused("live.segment", fam.relative)
    # The parent has a passkey and watches on.
    parent = world.client("parent_a")
    assert parent.get(playlist_urls(parent, fam)[0]).status_code == 200


def test_a_session_opened_with_the_password_alone_ends_when_the_owner_adds_a_second_step(
    world, django_capture_on_commit_callbacks
):
    fam = world.families["a"]
    stored(fam)
    password_only(fam.relative)
    Unit.objects.filter(pk=fam.unit.pk).update(second_step_grace_until=timezone.now() + timedelta(days=10))
    # Someone who learnt the password watches in the grace period from their own phone.
    thief = sign_in_by_form_client("relative_a")
    assert thief.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200

    # The relative adds an authenticator app on their own phone.
    owner = sign_in_by_form_client("relative_a")
    owner.post(owner.get(reverse("mfa_activate_totp"))["Location"], {"password": PASSWORD})
    page = owner.get(reverse("mfa_activate_totp")).content.decode()
    secret = parse_qs(urlparse(re.search(r'href="(otpauth://[^"]+)"', page)[1].replace("&amp;", "&")).query)
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(reverse("mfa_activate_totp"), {"code": code_for(secret["secret"][0])})

    # The password-only session is over; the owner's goes on.
    assert thief.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 404
    assert thief.get(reverse("devices")).status_code == 302
    assert owner.get(reverse("live_playlist", args=[fam.admission.pk])).status_code == 200
    assert Event.objects.filter(action="account.sessions_ended", actor_id=fam.relative.pk).exists()
