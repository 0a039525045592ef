"""Sending a care-team update, reading the timeline, and what relatives see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from cradle import scope
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.media.store import StoreError
from cradle.request import SignedInRequest
from cradle.unit.models import Admission, FamilyMembership
from cradle.updates import sealed
from cradle.updates.models import RelativeView, Update
from cradle.viewing.models import Clip
from cradle.viewing.storage import segment_store

MAX_TEXT = 1000
# A draft (a photo the nurse has not sent yet) is destroyed after this long.
DRAFT_AGE = timedelta(hours=1)


def draft(request: SignedInRequest, admission: Admission, photo: bytes, photo_source: str) -> Update:
    """Seals a photo the nurse has just taken or uploaded as an update only they see until they send it."""
    if admission.shredded_at is not None:
        raise StoreError("The baby's media has been destroyed; no update can be kept for them.")
    update = Update.objects.create(admission=admission, author=request.user, has_photo=True, photo_source=photo_source)
    update.admission = admission
    store = segment_store()
    store.admit(admission.media_id)
    sealed.put_photo(update, photo)
    return update


def discard(update: Update) -> None:
    """Destroys a draft's photo and its row."""
    sealed.forget(update)
    update.delete()


def send(
    request: SignedInRequest,
    admission: Admission,
    text: str,
    *,
    draft: Update | None = None,
    clip: Clip | None = None,
    warned: list[str] | None = None,
) -> Update:
    """Seals the words and sends the update (with the draft's photo, if any); audits it and queues the family's
    notices."""
    now = timezone.now()
    with transaction.atomic():
        if draft is None:
            update = Update.objects.create(admission=admission, author=request.user, created_at=now, sent_at=now)
        else:
            update = draft
        update.admission = admission
        sealed.put_text(update, text)
        Update.objects.filter(pk=update.pk).update(clip=clip, created_at=now, sent_at=now)
        update.clip, update.created_at, update.sent_at = clip, now, now
    record(
        request,
        Action.UPDATE_SENT,
        admission=admission,
        update=update.pk,
        photo=update.photo_source if update.has_photo else "",
        clip=clip.pk if clip else None,
        characters=len(text),
        # Which kinds of detail the PHI check warned of, and that the nurse sent anyway; never the words.
        warned=warned or [],
    )
    from cradle.updates import notify

    notify.queue_update(update)
    return update


def forget_drafts(older_than: timedelta = DRAFT_AGE) -> int:
    """Destroys drafts their nurse never sent; gives how many."""
    stale = list(Update.objects.filter(sent_at__isnull=True, created_at__lt=timezone.now() - older_than))
    for update in stale:
        discard(update)
    return len(stale)


@dataclass
class Item:
    """One entry of the family's timeline: an update (with its words) or a kept clip."""

    at: datetime
    update: Update | None = None
    text: str | None = None
    clip: Clip | None = None


def timeline(request: SignedInRequest, admission: Admission, clips: Any, limit: int = 50) -> list[Item]:
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
