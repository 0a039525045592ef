"""Per-session playlists and segment delivery.

Every segment a viewer receives carries one of two marked variants in each of its mark units; which one is a bit of
HMAC(session key, camera, segment index) (cradle.viewing.variants), so a leaked copy spells out the session. Segment
addresses are opaque sealed tokens (no camera, admission or variant can be read from them), bound to the session that
got the playlist, and short-lived.
In edge mode (cradle.viewing.edge) each segment line is preceded by its HLS AES-128 key line: a key address bound to
the session like a segment address, and the segment's IV, which is the same for both variants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from cradle.viewing import edge, variants
from cradle.viewing.models import LiveSegment


def _derive(info: str) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=info.encode()).derive(settings.SECRET_KEY.encode())


class Viewer(Protocol):
    """What delivery needs of a device session (a DeviceSession, or the fast path's copy of one)."""

    @property
    def pk(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def public_id(self) -> str: ...


def session_key(device: Viewer) -> bytes:
    """The key that picks this session's variants; derived, so that tracing can recompute it for any session."""
    return _derive(f"cradle.viewer.{device.public_id}")


def session_bit(device: Viewer, camera_id: int, index: int, unit: int = 0) -> int:
    """The bit of one mark unit this session is due (0: A, 1: B); see cradle.viewing.variants."""
    return "AB".index(variants.session_letters(session_key(device), camera_id, index, unit + 1)[unit])


def variant_for(device: Viewer, camera_id: int, index: int) -> str:
    """The segment this session gets, by the name the store knows it under ("A", "B", "AB", ...)."""
    return variants.choose(device, camera_id, index)


def viewer_code(device: Viewer) -> str:
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


def _seal(fields: list[int], purpose: bytes) -> str:
    # The nonce is derived from the content, so the same ticket always seals to the same address.
    body = json.dumps(fields, separators=(",", ":")).encode()
    key = _ticket_key()
    nonce = hmac.new(key, body, hashlib.sha256).digest()[:12]
    sealed = AESGCM(key).encrypt(nonce, body, purpose)
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def _unseal(token: str, purpose: bytes) -> list[int] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        fields = json.loads(AESGCM(_ticket_key()).decrypt(raw[:12], raw[12:], purpose))
        return [int(f) for f in fields]
    except (ValueError, InvalidTag, TypeError):
        return None


def seal_ticket(ticket: Ticket) -> str:
    """The segment address. The same ticket always seals to the same address (the nonce is derived from it), so a
    player reloading its playlist sees the segments it already has under the addresses it already knows."""
    return _seal([ticket.device_id, ticket.segment_id, ticket.expires, ticket.clip_id], b"cradle.segment")


def open_ticket(token: str) -> Ticket | None:
    """The ticket inside a segment address, or None for anything forged, altered or malformed."""
    fields = _unseal(token, b"cradle.segment")
    if fields is None or len(fields) != 4:
        return None
    return Ticket(*fields)


@dataclass(frozen=True)
class KeyTicket:
    """The address of an edge key (edge mode): one session, one admission, one camera epoch or clip."""

    device_id: int
    admission_id: int
    camera_id: int
    epoch: int
    clip_id: int
    expires: int


def seal_key_ticket(ticket: KeyTicket) -> str:
    fields = [ticket.device_id, ticket.admission_id, ticket.camera_id, ticket.epoch, ticket.clip_id, ticket.expires]
    # Its own associated data: a segment address can never be opened as a key address, nor the reverse.
    return _seal(fields, b"cradle.edge-key")


def open_key_ticket(token: str) -> KeyTicket | None:
    """The ticket inside a key address, or None for anything forged, altered or malformed."""
    fields = _unseal(token, b"cradle.edge-key")
    if fields is None or len(fields) != 6:
        return None
    return KeyTicket(*fields)


def key_url(device: Viewer, admission_id: int, epoch: edge.KeyEpoch, start: float | None = None) -> str:
    """The session's address of one edge key. A live key's address holds for its whole epoch (and as long after as
    the epoch's last segment addresses), so a player reloading its playlist fetches the key once."""
    if epoch.clip_id:
        expires = int(time.time() if start is None else start) + settings.CRADLE.clip_url_seconds
    else:
        # Segments are indexed a little after they begin; a minute covers that.
        expires = (epoch.epoch + 1) * edge.epoch_seconds() + settings.CRADLE.live_url_seconds + 60
    ticket = KeyTicket(device.pk, admission_id, epoch.camera_id, epoch.epoch, epoch.clip_id, expires)
    return reverse("segment_key", args=[seal_key_ticket(ticket)])


def _key_line(device: Viewer, segment: LiveSegment, clip_id: int = 0, start: float | None = None) -> str:
    epoch = edge.epoch_of(segment.camera_id, segment.started_at.timestamp(), clip_id)
    url = key_url(device, segment.admission_id, epoch, start)
    return f'#EXT-X-KEY:METHOD=AES-128,URI="{url}",IV=0x{edge.iv_for(epoch, segment.index).hex()}'


def segment_url(
    device: Viewer, segment: LiveSegment, lifetime_s: int, clip_id: int = 0, start: float | None = None
) -> str:
    """A sealed address for this session, valid `lifetime_s` from `start` (default: now)."""
    ticket = Ticket(device.pk, segment.pk, int(time.time() if start is None else start) + lifetime_s, clip_id)
    return reverse("segment", args=[seal_ticket(ticket)])


# A live playlist lists only segments whose addresses stay valid this long after it is made: a camera that stopped
# sending leaves its last segments behind, and a player given their dead addresses fails on every one of them.
LIVE_URL_MARGIN_S = 10


def live_since() -> datetime:
    """The oldest making time of a segment a live playlist may still list (see LIVE_URL_MARGIN_S; the margin is at
    most half the addresses' lifetime, so a short lifetime still lists the newest segments)."""
    lifetime = settings.CRADLE.live_url_seconds
    return timezone.now() - timedelta(seconds=max(0, lifetime - min(LIVE_URL_MARGIN_S, lifetime // 2)))


def live_rows(admission_id: int, bed_id: int) -> QuerySet[LiveSegment]:
    """An admission's segments on its bed's camera that a live playlist may list, newest first: the one query of the
    full path and the fast path alike."""
    rows = LiveSegment.objects.filter(admission_id=admission_id, camera__bed_id=bed_id, created_at__gte=live_since())
    return rows.order_by("-index")


def live_playlist(device: Viewer, segments: list[LiveSegment]) -> str:
    """An HLS live playlist of the newest segments, each behind this session's own short-lived address."""
    lifetime = settings.CRADLE.live_url_seconds
    # Segments are exactly 1 s, so the target duration is 1 and players reload the playlist every second.
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1"]
    if segments:
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{segments[0].index}")
    previous = None
    for segment in segments:
        if previous is not None and segment.index != previous + 1:
            lines.append("#EXT-X-DISCONTINUITY")
        if edge.enabled():
            lines.append(_key_line(device, segment))
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        # Live addresses count from the segment's making, so they stay the same across playlist reloads.
        lines.append(segment_url(device, segment, lifetime, start=segment.created_at.timestamp()))
        previous = segment.index
    return "\n".join(lines) + "\n"


def clip_playlist(device: Viewer, clip_id: int, segments: list[LiveSegment]) -> str:
    """A complete (VOD) playlist of one clip; its addresses last long enough to watch it, not to hoard it."""
    lifetime = settings.CRADLE.clip_url_seconds
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    issued = time.time()  # one key address for the whole clip
    for segment in segments:
        if edge.enabled():
            lines.append(_key_line(device, segment, clip_id, issued))
        lines.append(f"#EXTINF:{segment.duration:.3f},")
        lines.append(segment_url(device, segment, lifetime, clip_id))
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
