"""Which Cradle account belongs to which person of the hospital's directory."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DirectoryIdentity(models.Model):
    """A staff account that signs in through the hospital's directory, tied to the directory's own id of the person
    (LDAP entryUUID or objectGUID, OpenID Connect `sub`), never to a name that someone could register first."""

    class Source(models.TextChoices):
        LDAP = "ldap", "LDAP"
        OIDC = "oidc", "OpenID Connect"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_identity")
    source = models.CharField(max_length=10, choices=Source.choices)
    # OpenID Connect: a `sub` is unique only within its issuer, so a provider replaced by another never inherits
    # the first one's accounts. Empty for LDAP.
    issuer = models.CharField(max_length=255, blank=True, default="")
    subject = models.CharField(max_length=255)
    login = models.CharField(max_length=150)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "issuer", "subject"], name="directory_issuer_subject_once")
        ]
