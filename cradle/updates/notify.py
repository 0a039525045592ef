"""Telling the family that something new is waiting (filled in by cradle.notifications)."""

from __future__ import annotations

from cradle.updates.models import Update


def queue_update(update: Update) -> None:
    """Queues the family's notifications of a new update; never fails the request that sent it."""
