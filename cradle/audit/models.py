"""Append-only, hash-chained audit events and the alerts raised to privacy officers.

Events hold plain ids rather than foreign keys so that nothing outside the log can change or cascade into it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GENESIS = "0" * 64


class Event(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", _("allowed")
        DENIED = "denied", _("denied")
        FAILED = "failed", _("failed")

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, db_index=True)
    actor_name = models.CharField(max_length=80, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    unit_id = models.BigIntegerField(null=True, db_index=True)
    admission_id = models.BigIntegerField(null=True, db_index=True)
    ip = models.GenericIPAddressField(null=True)
    session = models.CharField(max_length=24, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]


class ChainHead(models.Model):
    """The newest link, kept apart so that appending serialises on one row and a cut-off tail is noticed."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)


class Alert(models.Model):
    """Something a privacy officer must look at, for one unit."""

    unit_id = models.BigIntegerField(db_index=True)

    class Kind(models.TextChoices):
        BREAK_GLASS = "break_glass", _("Emergency access")
        BULK_ACCESS = "bulk_access", _("Bulk access: account suspended")

    kind = models.CharField(max_length=40, choices=Kind.choices)
    # The facts of the alert; the page words them in the reader's language.
    detail = models.JSONField(default=dict)
    actor_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
