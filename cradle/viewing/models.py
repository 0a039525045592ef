"""What viewers can be sent: the live buffer's segments, and which variant each account has received."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class LiveSegment(models.Model):
    """One second of one camera, stored encrypted under its admission's key in both variants and as a reference.

    Segments exist only while a baby is admitted to the camera's bed: with nobody to watch, nothing is kept.
    """

    camera = models.ForeignKey("unit.Camera", on_delete=models.CASCADE, related_name="segments")
    admission = models.ForeignKey("unit.Admission", on_delete=models.CASCADE, related_name="segments")
    index = models.BigIntegerField()
    started_at = models.DateTimeField()
    duration = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Part of a clip: kept with the clip instead of leaving with the live buffer.
    in_clip = models.BooleanField(default=False)
    # Perceptual fingerprint of the redacted picture (cradle.media.fingerprint): finds the source of a leaked copy.
    fingerprint = models.BinaryField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["camera", "index"], name="segment_index_once_per_camera")]
        indexes = [models.Index(fields=["camera", "-index"])]


class ServedVariant(models.Model):
    """The variant of a segment an account has received. Once one is sent, the other never is: with both, a viewer
    could average the mark away."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    camera = models.ForeignKey("unit.Camera", on_delete=models.CASCADE, related_name="+")
    index = models.BigIntegerField()
    variant = models.PositiveSmallIntegerField()
    session = models.CharField(max_length=24)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "camera", "index"], name="one_variant_per_account_and_segment")
        ]


class Clip(models.Model):
    """A few seconds of the live buffer a nurse kept for the family. It has no title: only its date and length."""

    class Kind(models.TextChoices):
        RECORDED = "recorded", "recorded by a nurse"
        DAILY = "daily", "daily clip"

    admission = models.ForeignKey("unit.Admission", on_delete=models.CASCADE, related_name="clips")
    camera = models.ForeignKey("unit.Camera", on_delete=models.CASCADE, related_name="clips")
    segments = models.ManyToManyField(LiveSegment, related_name="clips")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RECORDED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    duration = models.FloatField()

    class Meta:
        ordering = ["-created_at"]
