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
    # Frames that are a privacy screen, and which kind most are (cradle.media.frames.Screen): the player and the
    # clip page say why there is no picture, rather than leaving a screen to be taken for the baby's care.
    frames = models.PositiveSmallIntegerField(default=0)
    screened = models.PositiveSmallIntegerField(default=0)
    screen = models.CharField(max_length=12, blank=True, default="")
    # Mark units the segment was cut into (cradle.media.mark.MARK_UNITS); 1 for segments made before units.
    units = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["camera", "index"], name="segment_index_once_per_camera")]
        indexes = [models.Index(fields=["camera", "-index"])]


class Lease(models.Model):
    """Which worker runs a camera (or the shared housekeeping), until when; see cradle.worker.leases.

    `epoch` grows at every change of holder: a worker writes a segment only while its lease is unexpired and still of
    the epoch it took, checked under the row's lock in the same transaction as the write (fencing). `next_index` is the
    camera's next segment index, so that a worker taking over carries on the sequence even after the live buffer has
    expired every segment.
    """

    name = models.CharField(max_length=80, primary_key=True)
    holder = models.CharField(max_length=80, blank=True)
    epoch = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField(default=timezone.now)
    next_index = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at:%H:%M:%S}"


class ServedVariant(models.Model):
    """The variants of a segment's mark units an account has received (coded by cradle.viewing.variants). Once one is
    sent, the other never is: with both, a viewer could average the mark away."""

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


class Revocation(models.Model):
    """Something that may take away a viewer's right to segments: a session ended, an account changed, an admission
    changed, a clip deleted. Written only by database triggers (migration 0005), so that no way of changing those rows
    (a save, a bulk update, a delete, a restore, an SQL console) can forget it; read by every app process to drop the
    grants of its fast path (cradle.viewing.fastpath). Rows older than an hour are pruned by the housekeeping."""

    class Kind(models.TextChoices):
        SESSION = "session"
        USER = "user"
        ADMISSION = "admission"
        CLIP = "clip"

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    subject = models.CharField(max_length=64)


class Keepsake(models.Model):
    """A keepsake a parent asked for, made in the background (cradle.viewing.keepsake) and kept sealed under the
    admission's key until it is fetched, for a day at most.

    The row is reserved before the MP4 is made, under a lock on the account, so that the daily limit holds however
    many requests arrive at once; a keepsake that could not be made gives its place back."""

    class State(models.TextChoices):
        MAKING = "making"
        READY = "ready"
        FAILED = "failed"
        # Made, then removed after its day: asked for again if still wanted.
        GONE = "gone"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Kept when the clip goes (shredding), so that the day's count stays true; the row names no baby.
    clip = models.ForeignKey("viewing.Clip", on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.MAKING)
    # The session that asked: its variants and viewer code are the ones in the file, as when it watched.
    device = models.ForeignKey("accounts.DeviceSession", on_delete=models.SET_NULL, null=True, related_name="+")
    # Where the sealed file is: the admission's media space, so that shredding the admission destroys it too.
    media_id = models.CharField(max_length=32, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)  # percent of the clip's frames encoded
    # Set by the task making it, and renewed as it goes: a keepsake whose maker died is made again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)
    # Seconds of the clip that are a privacy screen: the page says so before the file is saved.
    screened_seconds = models.PositiveIntegerField(default=0)
