"""Emergency access outside one's own unit: reasoned, at most an hour, and reported to the privacy officers."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cradle.audit.models import Alert, Event
from cradle.unit.models import BreakGlassGrant


def test_break_glass_needs_a_reason_lasts_an_hour_and_alerts(world):
    world.users["privacy"].email = "privacy@hospital.example"
    world.users["privacy"].save()
    nurse = world.client("nurse2")
    board = reverse("board", args=[world.unit1.pk])
    baby_a = reverse("baby", args=[world.families["a"].admission.pk])
    assert nurse.get(board).status_code == 404
    assert nurse.get(baby_a).status_code == 404

    url = reverse("break_glass", args=[world.unit1.pk])
    assert nurse.get(url).status_code == 200
    response = nurse.post(url, {"reason": "help"})
    assert response.status_code == 200 and not BreakGlassGrant.objects.exists()

    response = nurse.post(url, {"reason": "Covering bed 1 during a resuscitation next door"})
    assert response["Location"] == board
    grant = BreakGlassGrant.objects.get()
    assert timedelta(minutes=59) < grant.expires_at - grant.created_at <= timedelta(hours=1)
    assert nurse.get(board).status_code == 200
    assert nurse.get(baby_a).status_code == 200

    alert = Alert.objects.get(unit_id=world.unit1.pk, kind="break_glass")
    assert "resuscitation" in alert.detail["reason"]
    assert Event.objects.filter(action="break_glass.granted", unit_id=world.unit1.pk).exists()
    assert len(mail.outbox) == 1 and "resuscitation" not in mail.outbox[0].body  # details stay behind sign-in
    assert b"resuscitation" in world.client("privacy").get(reverse("alerts")).content

    BreakGlassGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert nurse.get(board).status_code == 404


def test_only_nurses_can_break_glass(world):
    for actor in ("privacy", "admin", "parent_a"):
        response = world.client(actor).post(
            reverse("break_glass", args=[world.unit2.pk]), {"reason": "I would like to look around please"}
        )
        assert response.status_code == 404
    assert not BreakGlassGrant.objects.exists()


def test_administrators_change_unit_settings_within_bounds(world):
    admin = world.client("admin")
    url = reverse("unit_settings", args=[world.unit1.pk])
    data = {"idle_timeout_minutes": 15, "session_lifetime_hours": 8, "relative_cap": 2, "parent_cap": 2}
    assert admin.post(url, data).status_code == 302
    world.unit1.refresh_from_db()
    assert (world.unit1.idle_timeout_minutes, world.unit1.relative_cap) == (15, 2)
    assert admin.post(url, data | {"idle_timeout_minutes": 100000}).status_code == 200
    world.unit1.refresh_from_db()
    assert world.unit1.idle_timeout_minutes == 15
    assert Event.objects.filter(action="unit.settings_changed").count() == 1
