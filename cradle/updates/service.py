"""Sending a care-team update, reading the timeline, and what relatives see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.unit.models import Admission, FamilyMembership
from cradle.updates import sealed
from cradle.updates.models import RelativeView, Update
from cradle.viewing.models import Clip

MAX_TEXT = 1000


def send(
    request: HttpRequest,
    admission: Admission,
    text: str,
    *,
    photo: bytes | None = None,
    photo_source: str = "",
    clip: Clip | None = None,
    warned: list[str] | None = None,
) -> Update:
    """Seals and records a new update from the requesting nurse, and queues the family's notifications."""
    with transaction.atomic():
        update = Update.objects.create(
            admission=admission,
            author=request.user,
            clip=clip,
            has_photo=photo is not None,
            photo_source=photo_source if photo is not None else "",
        )
        update.admission = admission
        sealed.put_text(update, text)
        if photo is not None:
            sealed.put_photo(update, photo)
    record(
        request,
        Action.UPDATE_SENT,
        admission=admission,
        update=update.pk,
        photo=photo_source if photo is not None else "",
        clip=clip.pk if clip else None,
        characters=len(text),
        # Which kinds of detail the PHI check warned of, and that the nurse sent anyway; never the words.
        warned=warned or [],
    )
    from cradle.updates import notify

    notify.queue_update(update)
    return update


@dataclass
class Item:
    """One entry of the family's timeline: an update (with its words) or a kept clip."""

    at: datetime
    update: Update | None = None
    text: str | None = None
    clip: Clip | None = None


def timeline(request: HttpRequest, admission: Admission, clips: Any, limit: int = 50) -> list[Item]:
    """Updates the user may read and the baby's clips, newest first; reading the updates is audited."""
    updates = list(scope.watchable_updates(request.user).filter(admission=admission).select_related("clip")[:limit])
    items = [Item(u.created_at, update=u, text=sealed.text(u)) for u in updates]
    linked = {u.clip_id for u in updates if u.clip_id}
    items += [Item(c.created_at, clip=c) for c in clips if c.pk not in linked]
    items.sort(key=lambda i: i.at, reverse=True)
    if updates:
        record(request, Action.UPDATE_VIEW, admission=admission, updates=[u.pk for u in updates])
    return items[:limit]


def relatives(admission: Admission) -> list[tuple[FamilyMembership, bool]]:
    """The admission's relatives and whether each sees the updates."""
    members = admission.family.filter(role=FamilyMembership.Role.RELATIVE, revoked_at__isnull=True).select_related(
        "user", "update_view"
    )
    return [(m, getattr(getattr(m, "update_view", None), "sees_updates", True)) for m in members]


def set_relative_view(request: HttpRequest, membership: FamilyMembership, sees_updates: bool) -> None:
    RelativeView.objects.update_or_create(membership=membership, defaults={"sees_updates": sees_updates})
    record(
        request,
        Action.UPDATE_AUDIENCE,
        admission=membership.admission,
        relative=membership.user_id,
        sees_updates=sees_updates,
    )
