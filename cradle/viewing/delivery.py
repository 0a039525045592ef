"""Per-session playlists and segment delivery.

Every segment a viewer receives is one of two marked variants. Which one is a bit of HMAC(session key, camera,
segment index), so a leaked copy spells out the session. Segment addresses are opaque sealed tokens (no camera,
admission or variant can be read from them), bound to the session that got the playlist, and short-lived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from cradle.accounts.models import DeviceSession
from cradle.viewing.models import LiveSegment, ServedVariant

VARIANTS = ("A", "B")


def _derive(info: str) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=info.encode()).derive(settings.SECRET_KEY.encode())


def session_key(device: DeviceSession) -> bytes:
    """The key that picks this session's variants; derived, so that tracing can recompute it for any session."""
    return _derive(f"cradle.viewer.{device.public_id}")


def session_bit(device: DeviceSession, camera_id: int, index: int) -> int:
    digest = hmac.new(session_key(device), f"camera:{camera_id}:{index}".encode(), hashlib.sha256).digest()
    return digest[0] & 1


def variant_for(device: DeviceSession, camera_id: int, index: int) -> str:
    """The variant this session gets; an account that already received one variant of the segment keeps getting it."""
    # Most fetches find the account's choice already made: a plain read takes no write lock.
    known = ServedVariant.objects.filter(user_id=device.user_id, camera_id=camera_id, index=index)
    served = known.values_list("variant", flat=True).first()
    if served is None:
        try:
            with transaction.atomic():
                served = ServedVariant.objects.create(
                    user_id=device.user_id,
                    camera_id=camera_id,
                    index=index,
                    variant=session_bit(device, camera_id, index),
                    session=device.public_id,
                ).variant
        except IntegrityError:  # another request of the same account won the race; take what it recorded
            served = known.values_list("variant", flat=True).get()
    return VARIANTS[served]


def viewer_code(device: DeviceSession) -> str:
    """The code the player shows over the picture: a photo of the screen still names the session."""
    digest = hmac.new(session_key(device), b"viewer-code", hashlib.sha256).digest()
    code = base64.b32encode(digest[:5]).decode()[:6]
    return f"{code[:3]}-{code[3:]}"


@dataclass(frozen=True)
class Ticket:
    device_id: int
    segment_id: int
    expires: int
    clip_id: int = 0  # 0: live


def _ticket_key() -> bytes:
    return _derive("cradle.segment-ticket")


def seal_ticket(ticket: Ticket) -> str:
    """The segment address. The same ticket always seals to the same address (the nonce is derived from it), so a
    player reloading its playlist sees the segments it already has under the addresses it already knows."""
    body = json.dumps(
        [ticket.device_id, ticket.segment_id, ticket.expires, ticket.clip_id], separators=(",", ":")
    ).encode()
    key = _ticket_key()
    nonce = hmac.new(key, body, hashlib.sha256).digest()[:12]
    sealed = AESGCM(key).encrypt(nonce, body, b"cradle.segment")
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_ticket(token: str) -> Ticket | None:
    """The ticket inside a segment address, or None for anything forged, altered or malformed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = AESGCM(_ticket_key()).decrypt(raw[:12], raw[12:], b"cradle.segment")
        device_id, segment_id, expires, clip_id = json.loads(body)
        return Ticket(int(device_id), int(segment_id), int(expires), int(clip_id))
    except (ValueError, InvalidTag, TypeError):
        return None


def segment_url(
    device: DeviceSession, segment: LiveSegment, lifetime_s: int, clip_id: int = 0, start: float | None = None
) -> str:
    """A sealed address for this session, valid `lifetime_s` from `start` (default: now)."""
    ticket = Ticket(device.pk, segment.pk, int(time.time() if start is None else start) + lifetime_s, clip_id)
    return reverse("segment", args=[seal_ticket(ticket)])


def live_playlist(device: DeviceSession, segments: list[LiveSegment]) -> str:
    """An HLS live playlist of the newest segments, each behind this session's own short-lived address."""
    lifetime = settings.CRADLE["LIVE_URL_SECONDS"]
    # Segments are exactly 1 s, so the target duration is 1 and players reload the playlist every second.
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1"]
    if segments:
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{segments[0].index}")
    previous = None
    for segment in segments:
        if previous is not None and segment.index != previous + 1:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        # Live addresses count from the segment's making, so they stay the same across playlist reloads.
        lines.append(segment_url(device, segment, lifetime, start=segment.created_at.timestamp()))
        previous = segment.index
    return "\n".join(lines) + "\n"


def clip_playlist(device: DeviceSession, clip_id: int, segments: list[LiveSegment]) -> str:
    """A complete (VOD) playlist of one clip; its addresses last long enough to watch it, not to hoard it."""
    lifetime = settings.CRADLE["CLIP_URL_SECONDS"]
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    for segment in segments:
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(segment_url(device, segment, lifetime, clip_id))
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
