"""Telling the family that the care team sent an update: a notice with no words of it (cradle.notifications)."""

from __future__ import annotations

from cradle.updates.models import Update


def queue_update(update: Update) -> None:
    """Queues the family's notices of a new update; never fails the request that sent it."""
    from cradle.notifications.models import Kind
    from cradle.notifications.outbox import tell_family

    tell_family(update.admission, Kind.UPDATE)
