"""What each person wants to be told, where, and the notices waiting to be sent.

A notice names a kind and a person, never a baby: what it says is the same for every family ("There is a new clip of
your baby"), so that nothing identifying passes through mail servers or push services outside the hospital.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    CLIP = "clip", _("A new clip")
    UPDATE = "update", _("An update from the care team")
    PAUSED = "paused", _("The camera paused longer than usual")
    STAY = "stay", _("Discharge or transfer")


class Preference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_pref")
    email = models.BooleanField(_("by e-mail"), default=True)
    push = models.BooleanField(_("on this phone or computer (where the browser allows)"), default=True)
    clip = models.BooleanField(Kind.CLIP.label, default=True)
    update = models.BooleanField(Kind.UPDATE.label, default=True)
    paused = models.BooleanField(Kind.PAUSED.label, default=True)
    stay = models.BooleanField(Kind.STAY.label, default=True)
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet until"), null=True, blank=True)
    digest = models.BooleanField(_("one message a day instead of one each time"), default=False)
    digest_at = models.TimeField(_("daily message at"), default=time(19, 0))
    # The person's own zone, taken from their browser when they save, for quiet hours and the daily message.
    time_zone = models.CharField(max_length=64, blank=True)
    # The language the person last read Cradle in (their baby's page, this form): notices are written in it.
    language = models.CharField(max_length=10, blank=True)

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, kind, False))


class PushSubscription(models.Model):
    """A browser's Web Push subscription (RFC 8030): where to post, and the keys to encrypt for it (RFC 8291)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=800, unique=True)
    p256dh = models.CharField(max_length=120)
    auth = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)


class Notice(models.Model):
    """One thing to tell one person, sent by the background queue when due (quiet hours, the daily message)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # "sent", "off" (the person does not want this kind), "failed" (gave up after retries)
    outcome = models.CharField(max_length=10, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)


class PauseWatch(models.Model):
    """Since when a camera has been paused without a break, and whether its family was told it is longer than usual."""

    camera = models.OneToOneField("unit.Camera", on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(default=timezone.now)
    told = models.BooleanField(default=False)
