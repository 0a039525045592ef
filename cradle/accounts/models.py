"""People and their signed-in devices."""

from __future__ import annotations

import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cradle.accounts.contact import SealedContactField, email_digest, mask_email, mask_phone


class UserManager(BaseUserManager["User"]):
    def create_user(self, username: str, password: str | None = None, **fields) -> User:
        user = self.model(username=self.model.normalize_username(username).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractBaseUser):
    """One person. No shared logins; Cradle stores a chosen display name, not a legal name."""

    username = models.CharField(_("username"), max_length=60, unique=True, validators=[UnicodeUsernameValidator()])
    display_name = models.CharField(_("display name"), max_length=60)
    # Contact details are sealed in the database (cradle.accounts.contact) and masked on staff pages.
    email = SealedContactField(_("e-mail address"), blank=True, digest_field="email_digest")
    email_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone = SealedContactField(_("phone number"), blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Set when bulk-access detection stopped the account; a privacy officer reviews and reinstates it.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_for = models.CharField(max_length=40, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def masked_email(self) -> str:
        return mask_email(self.email)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    def save(self, *args, **kwargs) -> None:
        self.email_digest = email_digest(self.email or "")
        if (fields := kwargs.get("update_fields")) is not None and "email" in fields:
            kwargs["update_fields"] = {*fields, "email_digest"}
        super().save(*args, **kwargs)


def _public_id() -> str:
    return secrets.token_urlsafe(12)


class DeviceSession(models.Model):
    """A signed-in browser or app: what the "Your devices" page lists and what can be ended."""

    # The browser and system in words, set for the "Your devices" page (cradle.accounts.views.devices); not stored.
    described: str

    class EndReason(models.TextChoices):
        LOGOUT = "logout", _("signed out")
        IDLE = "idle", _("idle too long")
        LIFETIME = "lifetime", _("session lifetime reached")
        BY_USER = "by_user", _("ended by you")
        BY_STAFF = "by_staff", _("ended by the unit")
        ACCESS_ENDED = "access_ended", _("access ended")
        DISCHARGED = "discharged", _("the baby left the unit")
        SUSPENDED = "suspended", _("account suspended")

    public_id = models.CharField(max_length=24, unique=True, default=_public_id)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="device_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    idle_timeout_s = models.PositiveIntegerField()
    lifetime_s = models.PositiveIntegerField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "ended_at"])]

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
