"""A segment-store Backend for wrapped data keys on the database every Cradle process already shares."""

from __future__ import annotations

import builtins

from django.db import IntegrityError, transaction

from cradle.keystore.models import WrappedKey
from cradle.media.store import ObjectExists, ObjectMissing, _check_name


class DatabaseKeys:
    """Keeps the store's key objects as rows: exclusive puts rely on the primary key, so of two workers admitting
    the same baby at once exactly one key is kept, on SQLite and PostgreSQL alike."""

    def put(self, name: str, data: bytes, *, exclusive: bool = False) -> None:
        _check_name(name)
        if not exclusive:
            WrappedKey.objects.update_or_create(name=name, defaults={"sealed": data})
            return
        try:
            # A savepoint, so that a lost race does not spoil the caller's transaction.
            with transaction.atomic():
                WrappedKey.objects.create(name=name, sealed=data)
        except IntegrityError:
            raise ObjectExists(f"{name} already exists.") from None

    def get(self, name: str) -> bytes:
        sealed = WrappedKey.objects.filter(name=name).values_list("sealed", flat=True).first()
        if sealed is None:
            raise ObjectMissing(f"{name} is not stored.")
        return bytes(sealed)  # PostgreSQL gives a memoryview

    def delete(self, name: str) -> None:
        WrappedKey.objects.filter(name=name).delete()

    def list(self, prefix: str) -> list[str]:
        return sorted(WrappedKey.objects.filter(name__startswith=prefix).values_list("name", flat=True))

    def unfinished(self, prefix: str = "", older_than_s: float = 0.0) -> builtins.list[str]:
        """Objects are written whole: a write cut off leaves nothing behind."""
        return []

    def sweep(self, prefix: str = "", older_than_s: float = 0.0) -> int:
        return 0
