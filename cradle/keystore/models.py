"""Wrapped data keys kept in the database, for installations whose media lives in object storage."""

from __future__ import annotations

from django.db import models


class WrappedKey(models.Model):
    """One small sealed object of the key store: an admission's data key wrapped by the master key, or the marker
    that proves which master key the store was sealed with. Useless without the master key file."""

    name = models.CharField(primary_key=True, max_length=200)
    sealed = models.BinaryField()

    def __str__(self) -> str:
        return self.name
