"""The answer to an authorised media fetch: a segment, a live playlist, a key, and the audit event each leaves.

Two paths authorise these fetches: the views (cradle.viewing.views), which run the whole authorisation, and the fast
path (cradle.viewing.fastpath), which answers from a grant the views left. Both answer through the functions here,
so that what a viewer receives (the variant's bytes or its edge copy, the playlist's addresses, the key) and what the
audit log says of it are decided once. Refusals are not here: the fast path never refuses, it leaves the fetch to
the views, which refuse and audit the refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from cradle.audit.actions import Action
from cradle.audit.log import Actor, event_fields, write_answer
from cradle.request import SignedInRequest
from cradle.viewing import delivery, edge

# Every media answer: never cached by anyone, never sniffed.
NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class Viewer:
    """Who a media answer is for: a device session of an account. Delivery's functions address the session by `pk`,
    `user_id` and `public_id`, as they would a DeviceSession."""

    pk: int
    user_id: int
    public_id: str
    actor: Actor

    @classmethod
    def of(cls, request: SignedInRequest) -> Viewer:
        """The request's signed-in device session (the views have checked there is one)."""
        device, user = request.device_session, request.user
        return cls(device.pk, user.pk, device.public_id, Actor(user.pk, user.display_name or user.username))


@dataclass(frozen=True)
class Picture:
    """Whose picture: the admission, its unit (for the audit log), its media key's name and its bed."""

    admission_id: int
    unit_id: int
    media_id: str
    bed_id: int

    @classmethod
    def of(cls, admission: Any) -> Picture:
        return cls(admission.pk, admission.unit_id, admission.media_id, admission.bed_id)


@dataclass(frozen=True)
class Segment:
    """What an answer needs of a segment row (immutable once written)."""

    pk: int
    admission_id: int
    camera_id: int
    index: int
    started: float
    created: float

    @classmethod
    def of(cls, row: Any) -> Segment:
        return cls(
            row.pk, row.admission_id, row.camera_id, row.index, row.started_at.timestamp(), row.created_at.timestamp()
        )


def variant(viewer: Viewer, row: Segment) -> str:
    """The variant of a segment this viewer gets (cradle.viewing.delivery.variant_for: recorded per account)."""
    return delivery.variant_for(viewer, row.camera_id, row.index)


def audit(
    request: HttpRequest,
    viewer: Viewer,
    picture: Picture,
    action: str,
    *,
    first_of: str = "",
    at_once: bool = False,
    **detail: Any,
) -> None:
    """The event of an allowed answer, durable before the answer leaves (AuditUnavailable otherwise). `first_of`
    names the picture whose first fetch in this session goes to the database at once (cradle.audit.batch); `at_once`
    sends this one there whatever it is."""
    fields = event_fields(
        request,
        action,
        admission=picture.admission_id,
        unit=picture.unit_id,
        actor=viewer.actor,
        session=viewer.public_id,
        **detail,
    )
    write_answer(fields, f"{viewer.pk}:{first_of}" if first_of else None, at_once=at_once)


def segment(
    request: HttpRequest,
    viewer: Viewer,
    picture: Picture,
    row: Segment,
    clip_id: int,
    variant_of: Callable[[Viewer, Segment], str] = variant,
) -> HttpResponse:
    """The viewer's variant of a segment: in edge mode an empty answer whose X-Accel-Redirect sends nginx to the
    encrypted copy (published now if it is not there yet), else the bytes from the segment store. StoreError, before
    anything is audited, when the copy cannot be read. `variant_of` gives `variant`, or remembers what it gave."""
    from cradle.viewing.storage import segment_store

    chosen = variant_of(viewer, row)
    data, location = b"", ""
    if edge.enabled():
        key_epoch = edge.epoch_of(row.camera_id, row.started, clip_id)
        location = edge.publish(picture.media_id, key_epoch, row.index, chosen)
    else:
        data = segment_store().get(picture.media_id, str(row.camera_id), row.index, chosen)
    detail: dict[str, Any] = {"camera": row.camera_id, "segment": row.index, "variant": chosen}
    if clip_id:
        detail["clip"] = clip_id
    action = Action.CLIP_SEGMENT if clip_id else Action.LIVE_SEGMENT
    first_of = f"clip:{clip_id}" if clip_id else f"live:{picture.admission_id}"
    audit(request, viewer, picture, action, first_of=first_of, **detail)
    if location:
        # nginx sends the encrypted copy from its internal location; the address never reaches the viewer.
        return HttpResponse(b"", content_type="video/mp2t", headers={**NO_STORE, "X-Accel-Redirect": location})
    return HttpResponse(data, content_type="video/mp2t", headers=NO_STORE)


def key_detail(ticket: delivery.KeyTicket) -> dict[str, Any]:
    """What a key fetch's event says of the key, allowed or refused."""
    return {"clip": ticket.clip_id} if ticket.clip_id else {"camera": ticket.camera_id, "epoch": ticket.epoch}


def key(
    request: HttpRequest, viewer: Viewer, picture: Picture, ticket: delivery.KeyTicket, *, at_once: bool
) -> HttpResponse:
    """The AES-128 key of one camera epoch or clip (edge mode). StoreError, before anything is audited, when the
    admission's media key is gone."""
    data = edge.key_for(picture.media_id, edge.KeyEpoch(ticket.camera_id, ticket.epoch, ticket.clip_id))
    action = Action.CLIP_KEY if ticket.clip_id else Action.LIVE_KEY
    audit(request, viewer, picture, action, at_once=at_once, **key_detail(ticket))
    return HttpResponse(data, content_type="application/octet-stream", headers=NO_STORE)


def audit_live_playlist(
    request: HttpRequest, viewer: Viewer, picture: Picture, segments: Sequence[Any], *, at_once: bool
) -> None:
    """A live playlist's event, written before the playlist is made (the bulk-access rules count it)."""
    audit(request, viewer, picture, Action.LIVE_PLAYLIST, at_once=at_once, segments=[s.index for s in segments[-1:]])


def live_playlist(viewer: Viewer, segments: Sequence[Any], body: bytes | None = None) -> HttpResponse:
    """The viewer's live playlist of these segments (`body`: the same playlist made before, which it always is for
    the same session and segments)."""
    if body is None:
        body = delivery.live_playlist(viewer, list(segments)).encode()
    return HttpResponse(body, content_type=PLAYLIST_TYPE, headers=NO_STORE)
