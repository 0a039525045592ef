"""The ward: units, beds, cameras, admissions, families, staff and invitations.

Cradle never stores a baby's name. An admission is "Baby at bed 7" or a nickname the parents choose; a hospital
inpatient number, when given, is kept only as a keyed hash so that admissions can be matched.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Unit(models.Model):
    name = models.CharField(_("name"), max_length=80)
    # The name as Chinese-speaking staff and families read it; the English name when empty.
    name_zh_hans = models.CharField(_("name in Chinese"), max_length=80, blank=True)
    code = models.SlugField(_("code"), max_length=20, unique=True)
    idle_timeout_minutes = models.PositiveIntegerField(_("idle timeout (minutes)"), default=30)
    session_lifetime_hours = models.PositiveIntegerField(_("session lifetime (hours)"), default=12)
    relative_cap = models.PositiveIntegerField(_("relatives per baby"), default=4)
    parent_cap = models.PositiveIntegerField(_("parents per baby"), default=2)
    # After discharge the family keeps its clips (not live) this long; then the admission's key is destroyed.
    grace_days = models.PositiveIntegerField(_("days clips stay viewable after discharge"), default=30)
    # No picture reaches a family member who has no second sign-in step (passkey or authenticator app), so that a
    # leaked or reset password alone never shows a baby (cradle.accounts.second_step).
    family_second_step = models.BooleanField(
        _("families need a second sign-in step to watch"),
        default=True,
        help_text=_(
            "A passkey or an authenticator app, besides the password. Family members without one see how to add "
            "it instead of the picture."
        ),
    )
    # Families of a unit that existed before the rule came may watch without a second step until then, with a
    # reminder; new units give no such time.
    second_step_grace_until = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.name

    @property
    def local_name(self) -> str:
        """The unit's name in the reader's language."""
        from django.utils.translation import get_language

        if self.name_zh_hans and (get_language() or "").lower().startswith("zh"):
            return self.name_zh_hans
        return self.name


class Bed(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="beds")
    label = models.CharField(_("bed"), max_length=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "label"], name="bed_label_unique_in_unit")]
        ordering = ["unit", "label"]

    def __str__(self) -> str:
        return f"{self.unit.code} / {self.label}"

    @property
    def current_admission(self) -> Admission | None:
        return self.admissions.filter(discharged_at__isnull=True).first()


class Camera(models.Model):
    class State(models.TextChoices):
        LIVE = "live", _("live")
        # Segments come, but as the fail-closed privacy screen: the picture could not be checked in time.
        CHECKING = "checking", _("picture being checked")
        # Segments come, but the camera sends nothing: the source's privacy screen covers the gap.
        NO_PICTURE = "no_picture", _("no picture from the camera")
        OFFLINE = "offline", _("offline")

    class PauseReason(models.TextChoices):
        CARE = "care", _("Care or procedure")
        FAMILY = "family", _("The family asked")
        STAFF = "staff", _("Staff privacy")
        OTHER = "other", _("Other")

    PAUSE_MINUTES = (10, 20, 30)
    # The worker reports every segment (each second); a report older than this means no worker runs the camera.
    HEARTBEAT_SECONDS = 6
    # The last error a worker at its redaction capacity writes for a camera that no worker runs (cradle.worker).
    NO_CAPACITY = "not enough redaction capacity"

    # None once the camera is retired: its bed can have another camera, its clips stay.
    bed = models.OneToOneField(Bed, on_delete=models.PROTECT, related_name="camera", null=True, blank=True)
    # The address without its user name and password; those are kept sealed apart (source_credentials).
    source_url = models.CharField(_("source"), max_length=300)
    source_credentials = models.TextField(blank=True, editable=False)
    # What the unit delivers from this camera, whatever the camera sends (scaled and retimed); None: the defaults,
    # or what a simulated camera's address says.
    width = models.PositiveSmallIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveSmallIntegerField(_("height"), null=True, blank=True)
    fps = models.PositiveSmallIntegerField(_("frames per second"), null=True, blank=True)
    # What the pipeline last reported, and when (its heartbeat).
    state = models.CharField(max_length=10, choices=State.choices, default=State.OFFLINE)
    state_changed_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    measured_fps = models.FloatField(default=0.0)
    # Share of the frames of the last minute or so that were privacy screens (0..1).
    screened_share = models.FloatField(default=0.0)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Nurse privacy mode: the pipeline sends the privacy screen until then; it resumes by itself.
    paused_until = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=10, choices=PauseReason.choices, blank=True)
    # A clip kept every day at this time (unit's local time), when a baby is admitted; none when empty.
    daily_clip_at = models.TimeField(_("daily clip at"), null=True, blank=True)
    daily_clip_seconds = models.PositiveSmallIntegerField(default=30)

    def __str__(self) -> str:
        return f"camera at {self.bed}" if self.bed_id else f"retired camera {self.pk}"

    def save(self, *args, **kwargs) -> None:
        # Credentials typed into the address are moved out of it and sealed before anything is written.
        from cradle.accounts import secretbox
        from cradle.media.camera_url import split_credentials

        url, credentials = split_credentials(self.source_url)
        if credentials:
            self.source_url = url
            self.source_credentials = secretbox.seal(credentials, CAMERA_SECRET_PURPOSE)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "source_url", "source_credentials"}
        super().save(*args, **kwargs)

    @property
    def connect_url(self) -> str:
        """The address to connect to, credentials included: for the pipeline only, never shown or logged."""
        from cradle.accounts import secretbox
        from cradle.media.camera_url import with_credentials

        if not self.source_credentials:
            return self.source_url
        return with_credentials(self.source_url, secretbox.unseal(self.source_credentials, CAMERA_SECRET_PURPOSE))

    @property
    def error_words(self) -> str:
        """The last error as the nurse's pages say it: the want of capacity in the page's language, an error the
        camera itself gave as it came."""
        if self.last_error == self.NO_CAPACITY:
            return gettext("Not enough redaction capacity: no worker can check this camera's picture in time.")
        return self.last_error

    @property
    def has_credentials(self) -> bool:
        return bool(self.source_credentials)

    @property
    def at_bed(self) -> Bed:
        """The bed of a camera in service: every camera scope gives staff has one; a retired camera has none."""
        if self.bed is None:
            raise Camera.DoesNotExist(f"Camera {self.pk} is retired and has no bed.")
        return self.bed

    @property
    def is_paused(self) -> bool:
        return self.paused_until is not None and self.paused_until > timezone.now()

    @property
    def reported_state(self) -> str:
        """The pipeline's last report while its heartbeat is fresh; offline once it is stale (a worker that died
        or stopped leaves its last report behind)."""
        fresh = self.seen_at is not None and self.seen_at >= timezone.now() - timedelta(seconds=self.HEARTBEAT_SECONDS)
        return self.state if fresh else self.State.OFFLINE

    @property
    def shown_state(self) -> str:
        """What a viewer is told: paused by the nurse, or what the pipeline reports."""
        return "paused" if self.is_paused else self.reported_state


CAMERA_SECRET_PURPOSE = "camera"  # noqa: S105 - the name of a key derivation, not a secret


def inpatient_digest(number: str) -> str:
    """The keyed hash under which an inpatient number is matched; the number itself is never stored."""
    # Spaces, dashes and case vary between systems that print the same number.
    normalised = "".join(ch for ch in number if ch.isalnum()).upper()
    return salted_hmac("cradle.unit.inpatient", normalised, algorithm="sha256").hexdigest()


def _media_id() -> str:
    return secrets.token_hex(16)


class AdmissionQuerySet(models.QuerySet["Admission"]):
    def filmed(self) -> AdmissionQuerySet:
        """Admissions whose camera runs: in the unit, and the parents have not withdrawn consent to live viewing."""
        return self.filter(discharged_at__isnull=True, live_withdrawn_at__isnull=True, shredded_at__isnull=True)


class Admission(models.Model):
    # Names the admission in media storage and in the associated data of every segment; random, so that it is never
    # reused for another baby and tells nothing about the admission.
    media_id = models.CharField(max_length=32, unique=True, default=_media_id, editable=False)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="admissions")
    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="admissions")
    nickname = models.CharField(_("nickname"), max_length=40, blank=True)
    inpatient_digest = models.CharField(max_length=64, blank=True, db_index=True)
    admitted_at = models.DateTimeField(default=timezone.now)
    # None: admitted by the hospital's admission feed (cradle.integrations.adt).
    admitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    discharged_at = models.DateTimeField(null=True, blank=True)
    # The parents withdrew consent to live viewing: the camera stops for this baby; kept clips stay.
    live_withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The admission's data key was destroyed (grace period over, or the parents withdrew consent to everything):
    # no media of it can be read any more, and the family's access has ended.
    shredded_at = models.DateTimeField(null=True, blank=True)

    objects = AdmissionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bed"], condition=models.Q(discharged_at__isnull=True), name="one_admission_per_bed"
            )
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.nickname:
            return self.nickname
        return str(_("Baby at bed %(bed)s") % {"bed": self.bed.label})

    @property
    def is_active(self) -> bool:
        return self.discharged_at is None

    @property
    def clips_until(self) -> datetime | None:
        """When the family's access to clips ends and the key is destroyed; None while the baby is in the unit."""
        if self.discharged_at is None:
            return None
        return self.discharged_at + timedelta(days=self.unit.grace_days)


class StaffMembership(models.Model):
    class Role(models.TextChoices):
        NURSE = "nurse", _("nurse")
        PRIVACY_OFFICER = "privacy_officer", _("privacy officer")
        ADMINISTRATOR = "administrator", _("administrator")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_memberships")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="staff")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "unit", "role"], name="staff_role_once")]


class FamilyMembership(models.Model):
    class Role(models.TextChoices):
        PARENT = "parent", _("parent")
        RELATIVE = "relative", _("relative")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="family_memberships")
    admission = models.ForeignKey(Admission, on_delete=models.CASCADE, related_name="family")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "admission"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_active_membership",
            )
        ]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Invitation(models.Model):
    """A single-use code bound to one admission and one role. Only a keyed digest of the code is stored."""

    admission = models.ForeignKey(Admission, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=10, choices=FamilyMembership.Role.choices)
    code_digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_open(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class BreakGlassGrant(models.Model):
    """Emergency access for a staff member to a unit that is not theirs: reasoned, short and reported."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="break_glass_grants")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
