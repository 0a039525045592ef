"""The fast path of segment fetches: a family viewer's player asks for a segment every second, and running the whole
authorisation (session, account, device session, scope, staff checks) for each of them is what limits how many
viewers an app server can carry.

When the full path has authorised a family viewer's playlist, key or segment, this process remembers a grant: this
session cookie, this device session, this admission (live, or one clip), until the earliest of about five minutes
from now and the device session's idle and absolute ends (the fast path keeps the session's last-seen time, as the
full path does). A later segment fetch whose address names that device session and a
segment the full path has already seen for that admission is answered here: the address is opened and checked, the
account's variant looked up, the fetch audited and counted exactly as the full path does, and the same headers sent.

A grant never outlives what could take it away. Database triggers (viewing migration 0005) write a Revocation row for
every change that may: a session deleted or ended, an account deactivated, suspended or given a new password or a
staff role, a family membership changed, an admission changed (discharge, transfer, withdrawn consent, shredding), a
clip deleted. Every fast fetch first asks the database whether the revocation log changed (one indexed query) and drops
the grants it names before answering. Staff never get a grant: their fetches always take the full path.

Anything unusual (no grant, an expired or foreign address, a segment not seen yet, the database unreachable, an
unreadable copy) falls through to the full path, which answers and audits as it always did.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers

from cradle import metrics
from cradle.audit import batch
from cradle.audit.log import client_ip
from cradle.media.store import StoreError
from cradle.outage import StateLog
from cradle.viewing import delivery, edge
from cradle.web.request import CradleRequest

log = logging.getLogger(__name__)
outage = StateLog(log, "the fast path (taking the full path meanwhile)")

# A grant lasts about this long (+-20 %, so that grants made together are not renewed together), never longer than
# GRANT_MAX_SECONDS.
GRANT_SECONDS = 300
GRANT_MAX_SECONDS = GRANT_SECONDS * 1.2
# A device session's last-seen time is brought forward at most this often (as SessionPolicyMiddleware does).
TOUCH_SECONDS = 30
# A revocation may be written (the trigger's clock) this long before its transaction commits and it becomes visible:
# a revoking transaction that stays open longer is caught only when the grants it concerns expire.
COMMIT_SLACK_SECONDS = 300
# Revocation rows are looked at for this long after they were written: the whole life of any grant that may be alive
# now, plus the slack above. A grant made at G must see every revocation written from G - slack on, however long
# its viewer stays idle before the next fetch, so the window must reach back to the oldest grant that can be alive.
WINDOW_SECONDS = GRANT_MAX_SECONDS + COMMIT_SLACK_SECONDS
_CACHE_MAX = 200_000
_HEADERS_LEFT_OUT = {"content-length", "x-accel-redirect", "set-cookie", "expires"}


@dataclass
class Grant:
    session_key: str
    device_pk: int
    public_id: str
    user_id: int
    actor_name: str
    admission_id: int
    unit_id: int
    media_id: str
    bed_id: int
    clip_id: int
    ip: str | None
    until: float  # the grant's own end: its lifetime, the device session's absolute end, a clip's grace period
    idle_s: int  # the device session's idle time-out
    seen: float  # when the device session was last seen (brought forward by the fast path too)

    def ended(self, now: float) -> bool:
        return now >= self.until or now >= self.seen + self.idle_s


@dataclass(frozen=True)
class Seen:
    """What the fast path needs of a segment row (immutable once written)."""

    admission_id: int
    camera_id: int
    index: int
    started: float
    created: float


@dataclass(frozen=True)
class _Viewer:
    """What delivery needs of a device session (variant choice, addresses)."""

    pk: int
    user_id: int
    public_id: str


_lock = threading.Lock()
# (session key, admission, clip or 0): a session key belongs to one device session.
_grants: dict[tuple[str, int, int], Grant] = {}
_segments: dict[int, Seen] = {}
_clip_segments: set[tuple[int, int]] = set()
_variants: dict[tuple[int, int, int], str] = {}
# The headers the full path sends with a segment, a playlist, a key: learnt from its answers.
_headers: dict[str, dict[str, str]] = {}
_log_state: tuple | None = None
_applied: dict[int, float] = {}
# The revocations this process has applied, in order (the newest _HISTORY_MAX); _history_start numbers the first.
_history: list[tuple[str, str]] = []
_history_start = 0
_HISTORY_MAX = 10_000
_newest_rows: dict[tuple[int, int], tuple[float, list]] = {}  # (admission, bed): (when looked up, newest segments)
_bodies: dict[tuple, bytes] = {}  # (device session, segment ids): the playlist
NEWEST_SECONDS = 0.25


def reset() -> None:
    """Forgets every grant and everything cached (tests; a process that lost track)."""
    global _headers, _log_state, _history_start
    with _lock:
        _history_start += len(_history)
        _history.clear()
        _grants.clear()
        _segments.clear()
        _clip_segments.clear()
        _variants.clear()
        _applied.clear()
        _newest_rows.clear()
        _bodies.clear()
        _headers = {}
        _log_state = None


def enabled() -> bool:
    return settings.CRADLE.fast_path


_PLAYLIST = re.compile(r"/babies/(\d{1,18})/live\.m3u8")
_STATUS = re.compile(r"/babies/(\d{1,18})/status\.json")
# The grant key's clip part for a player's state checks: a grant of its own, so that it never stands in for the
# full path's first playlist (where the bulk-access rules run).
STATUS = -1


def _kind(path: str) -> str:
    if path.startswith("/v/"):
        return "segment" if path.endswith(".ts") else "key" if path.endswith(".key") else ""
    if _PLAYLIST.fullmatch(path):
        return "playlist"
    return "status" if _STATUS.fullmatch(path) else ""


class FastSegmentMiddleware:
    """First in the middleware list: answers a granted segment, live playlist or key fetch before sessions,
    accounts and the rest are loaded; and learns, from the full path's answers, the headers each kind carries."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: CradleRequest) -> HttpResponse:
        kind = _kind(request.path_info)
        if kind and request.method == "GET" and enabled():
            try:
                response = serve(request, kind)
            except batch.AuditUnavailable:
                raise  # nothing may be served: the full path could not audit it either (a 503)
            except DatabaseError as e:
                outage.failed(e)  # one line when it starts, not one per fetch
                response = None
            if response is not None:
                if outage.down:
                    outage.ok()
                return response
        # Revocations read from here on may concern a grant this request leaves (see remember).
        request._fast_path_mark = _history_start + len(_history)
        response = self.get_response(request)
        if kind and response.status_code == 200 and kind not in _headers:
            _headers[kind] = {k: v for k, v in response.items() if k.lower() not in _HEADERS_LEFT_OUT}
        return response


def remember(request: CradleRequest, admission: Any, clip_id: int = 0, segments: Any = ()) -> None:
    """Called by the full path once it has authorised a fetch of this admission's live picture (clip_id 0), of one
    clip, or a state check of its player (STATUS): grants this session the fast path for it, and notes the segments
    the viewer may ask for next."""
    if not enabled():
        return
    from cradle.scope import is_staff, second_step_standing

    device = getattr(request, "device_session", None)
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    mark = getattr(request, "_fast_path_mark", None)
    user = request.user
    if device is None or not session_key or mark is None or not user.is_authenticated or is_staff(user):
        return
    with _lock:
        _trim()
        for row in segments:
            _segments[row.pk] = Seen(
                row.admission_id, row.camera_id, row.index, row.started_at.timestamp(), row.created_at.timestamp()
            )
            if clip_id > 0:
                _clip_segments.add((clip_id, row.pk))
    key = (session_key, admission.pk, clip_id)
    now = timezone.now()
    held = _grants.get(key)
    if held is not None and not held.ended(now.timestamp() + GRANT_SECONDS / 2):
        return
    lifetime = min(GRANT_SECONDS * random.uniform(0.8, 1.2), GRANT_MAX_SECONDS)  # noqa: S311 - spreading, not secrecy
    ends = [
        now + timedelta(seconds=lifetime),
        device.created_at + timedelta(seconds=device.lifetime_s),
    ]
    if clip_id > 0 and admission.discharged_at is not None:
        ends.append(admission.clips_until)
    if (second_step_until := second_step_standing(user, admission).grace_until) is not None:
        ends.append(second_step_until)  # watching without a second step: not past the unit's grace period
    grant = Grant(
        session_key=session_key,
        device_pk=device.pk,
        public_id=device.public_id,
        user_id=user.pk,
        actor_name=user.display_name or user.username,
        admission_id=admission.pk,
        unit_id=admission.unit_id,
        media_id=admission.media_id,
        bed_id=admission.bed_id,
        clip_id=clip_id,
        ip=client_ip(request),
        until=min(ends).timestamp(),
        idle_s=device.idle_timeout_s,
        seen=device.last_seen_at.timestamp(),
    )
    with _lock:
        # A revocation that another thread of this process read while the full path was deciding was applied
        # before this grant existed: apply those again, now that it does.
        missed = _history[mark - _history_start :] if mark >= _history_start else None
        if missed is None:
            return  # too much happened meanwhile to tell: no grant this time
        _grants[key] = grant
        for kind, subject in missed:
            _revoke(kind, subject)


def serve(request: HttpRequest, kind: str = "segment") -> HttpResponse | None:
    """The answer to a granted fetch, or None for the full path to answer."""
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        response, outcome = None, "signed_out"
    elif kind not in _headers:
        response, outcome = None, "starting"
    else:
        response, outcome = _KINDS[kind](request, session_key)
    metrics.FAST_PATH.labels(kind, outcome).inc()
    return response


def _granted(session_key: str, admission_id: int, clip_id: int, device_id: int | None) -> tuple[Grant | None, str]:
    """The grant for this fetch, once the revocation log has been read; or why there is none."""
    key = (session_key, admission_id, clip_id)
    grant = _grants.get(key)
    if grant is None or (device_id is not None and grant.device_pk != device_id):
        return None, "no_grant"
    now = time.time()
    if grant.ended(now):
        return None, "grant_ended"
    _follow_revocations()
    if _grants.get(key) is not grant:
        return None, "revoked"
    if now - grant.seen > TOUCH_SECONDS:
        grant.seen = now
        batch.touch(grant.device_pk)
    return grant, ""


def _event(request: HttpRequest, grant: Grant, action: str, detail: dict, first_of: str = "") -> None:
    """Audits the fetch with the fields the full path gives it, durably, before it is answered (AuditUnavailable when
    neither the database nor the audit spool takes it), and counts it. A segment fetch is written as the full path
    writes it (cradle.audit.log.record_fetch: the first of the session for a picture in this process to the database,
    later ones to the spool while batching); a playlist reload or a key may always go to the spool, since the
    viewing's beginning was written to the database by the full-path fetch that left the grant."""
    fields = {
        "at": timezone.now(),
        "actor_id": grant.user_id,
        "actor_name": grant.actor_name,
        "action": action,
        "unit_id": grant.unit_id,
        "admission_id": grant.admission_id,
        "ip": client_ip(request),
        "session": grant.public_id,
        "outcome": "ok",
        "detail": detail,
    }
    batch.write(fields, f"{grant.device_pk}:{first_of}" if first_of else None)
    metrics.count_fetch(action, allowed=True)


def _answer(kind: str, body: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    for name, value in _headers[kind].items():
        response[name] = value
    response["Content-Length"] = str(len(body))
    if kind in ("playlist", "status"):
        add_never_cache_headers(response)  # as the full path's never_cache does, Expires included
    return response


def _segment(request: HttpRequest, session_key: str) -> tuple[HttpResponse | None, str]:
    ticket = delivery.open_ticket(request.path_info[3:-3])
    now = time.time()
    if ticket is None or ticket.expires < now:
        return None, "bad_address"
    seen = _segments.get(ticket.segment_id)
    if seen is None:
        return None, "unseen_segment"
    if ticket.clip_id:
        if (ticket.clip_id, ticket.segment_id) not in _clip_segments:
            return None, "unseen_segment"
    elif seen.created + settings.CRADLE.live_buffer_seconds < now:
        return None, "gone"  # past the live buffer, as the full path will say
    grant, why = _granted(session_key, seen.admission_id, ticket.clip_id, ticket.device_id)
    if grant is None:
        return None, why
    variant = _variant(grant, seen)
    data, location = b"", ""
    try:
        if edge.enabled():
            scope = edge.scope_of(seen.camera_id, seen.started, ticket.clip_id)
            location = edge.publish(grant.media_id, scope, seen.index, variant)
        else:
            from cradle.viewing.storage import segment_store

            data = segment_store().get(grant.media_id, str(seen.camera_id), seen.index, variant)
    except StoreError:
        return None, "unreadable"
    detail = {"camera": seen.camera_id, "segment": seen.index, "variant": variant}
    if ticket.clip_id:
        detail["clip"] = ticket.clip_id
    if ticket.clip_id:
        _event(request, grant, "clip.segment", detail, f"clip:{ticket.clip_id}")
    else:
        _event(request, grant, "live.segment", detail, f"live:{grant.admission_id}")
    response = _answer("segment", data, "video/mp2t")
    if location:
        response["X-Accel-Redirect"] = location
    return response, "served"


def _playlist(request: HttpRequest, session_key: str) -> tuple[HttpResponse | None, str]:
    if (match := _PLAYLIST.fullmatch(request.path_info)) is None:
        return None, "route"
    admission_id = int(match[1])
    grant, why = _granted(session_key, admission_id, 0, None)
    if grant is None:
        return None, why
    # The bulk-access rules (cradle.audit.anomaly) look at new sessions and new addresses, which the full path
    # checks; a reload of the same session from the same address cannot break one.
    if client_ip(request) != grant.ip:
        return None, "new_address"
    segments = _newest(admission_id, grant.bed_id)
    _event(request, grant, "live.playlist", {"segments": [s.index for s in segments[-1:]]})
    # A session's playlist follows from its segments alone (addresses count from each segment's making): the same
    # segments give the same playlist, so a reload between two new segments is made once.
    shape = (grant.device_pk, tuple(row.pk for row in segments))
    body = _bodies.get(shape)
    if body is None:
        body = delivery.live_playlist(_Viewer(grant.device_pk, grant.user_id, grant.public_id), segments).encode()
        with _lock:
            if len(_bodies) > _CACHE_MAX // 10:
                _bodies.clear()
            _bodies[shape] = body
    return _answer("playlist", body, "application/vnd.apple.mpegurl"), "served"


def _newest(admission_id: int, bed_id: int) -> list:
    """The admission's newest segments on its bed's camera, as the full path lists them; looked up at most every
    NEWEST_SECONDS in this process (every viewer of the baby reloads every second, a segment comes every second)."""
    from cradle.viewing.models import LiveSegment

    now = time.monotonic()
    held = _newest_rows.get((admission_id, bed_id))
    if held is not None and now - held[0] < NEWEST_SECONDS:
        return held[1]
    count = settings.CRADLE.live_playlist_segments
    newest = LiveSegment.objects.filter(admission_id=admission_id, camera__bed_id=bed_id).order_by("-index")
    fields = ("pk", "camera_id", "admission_id", "index", "started_at", "created_at", "duration")
    segments = list(reversed(newest.only(*fields)[:count]))
    with _lock:
        if len(_newest_rows) > _CACHE_MAX // 10:
            _newest_rows.clear()
        _newest_rows[(admission_id, bed_id)] = (now, segments)
        for row in segments:
            _segments[row.pk] = Seen(
                row.admission_id, row.camera_id, row.index, row.started_at.timestamp(), row.created_at.timestamp()
            )
    return segments


def _key(request: HttpRequest, session_key: str) -> tuple[HttpResponse | None, str]:
    ticket = delivery.open_key_ticket(request.path_info[3:-4])
    if ticket is None or ticket.expires < time.time():
        return None, "bad_address"
    grant, why = _granted(session_key, ticket.admission_id, ticket.clip_id, ticket.device_id)
    if grant is None:
        return None, why
    try:
        key = edge.key_for(grant.media_id, edge.KeyScope(ticket.camera_id, ticket.epoch, ticket.clip_id))
    except StoreError:
        return None, "unreadable"
    action = "clip.key" if ticket.clip_id else "live.key"
    detail = {"clip": ticket.clip_id} if ticket.clip_id else {"camera": ticket.camera_id, "epoch": ticket.epoch}
    _event(request, grant, action, detail)
    return _answer("key", key, "application/octet-stream"), "served"


def _status(request: HttpRequest, session_key: str) -> tuple[HttpResponse | None, str]:
    """A player's state check (cradle.viewing.states) under a grant: whatever could end the family's right to the
    picture revokes the grant, so only the camera and the newest segment are left to read, in the reader's language
    and time zone; audited as the full path does."""
    from cradle.unit.models import Camera
    from cradle.viewing import states
    from cradle.web import zone

    if (match := _STATUS.fullmatch(request.path_info)) is None:
        return None, "route"
    admission_id = int(match[1])
    grant, why = _granted(session_key, admission_id, STATUS, None)
    if grant is None:
        return None, why
    language = translation.get_language_from_request(request)
    chosen = zone.zone(request.COOKIES.get(zone.COOKIE, ""))
    with translation.override(language), timezone.override(chosen) if chosen else contextlib.nullcontext():
        state = states.of_camera(admission_id, Camera.objects.filter(bed_id=grant.bed_id).first())
        body = json.dumps(state.as_json()).encode()
    _event(request, grant, "baby.status", {"state": state.code}, f"status:{admission_id}")
    response = _answer("status", body, "application/json")
    response["Content-Language"] = language
    return response, "served"


_KINDS = {"segment": _segment, "playlist": _playlist, "key": _key, "status": _status}


def _variant(grant: Grant, seen: Seen) -> str:
    key = (grant.user_id, seen.camera_id, seen.index)
    variant = _variants.get(key)
    if variant is None:
        viewer = _Viewer(grant.device_pk, grant.user_id, grant.public_id)
        variant = delivery.variant_for(viewer, seen.camera_id, seen.index)
        _variants[key] = variant  # an account's variant of a segment never changes once recorded
    return variant


def _follow_revocations() -> None:
    """Drops the grants named by revocations written since the last look (one query when nothing changed)."""
    global _log_state, _history_start
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=WINDOW_SECONDS))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MAX(id), SUM(id) FROM viewing_revocation WHERE at >= %s", [since])
        state = tuple(cursor.fetchone())
        if state == _log_state:
            return
        cursor.execute("SELECT id, kind, subject FROM viewing_revocation WHERE at >= %s", [since])
        rows = cursor.fetchall()
    with _lock:
        for pk, kind, subject in rows:
            if pk not in _applied:
                _applied[pk] = time.time()
                _revoke(kind, subject)
                _history.append((kind, subject))
        if len(_history) > _HISTORY_MAX:
            _history_start += len(_history) - _HISTORY_MAX // 2
            del _history[: len(_history) - _HISTORY_MAX // 2]
        oldest = time.time() - 2 * WINDOW_SECONDS
        for pk in [pk for pk, at in _applied.items() if at < oldest]:
            del _applied[pk]
        _log_state = state


def _revoke(kind: str, subject: str) -> None:
    """Under _lock: drops the grants a revocation names."""
    if kind == "clip":
        clip_id = int(subject)
        _clip_segments.difference_update({pair for pair in _clip_segments if pair[0] == clip_id})
    for key, grant in list(_grants.items()):
        if (
            (kind == "session" and grant.session_key == subject)
            or (kind == "user" and str(grant.user_id) == subject)
            or (kind == "admission" and str(grant.admission_id) == subject)
            or (kind == "clip" and str(grant.clip_id) == subject)
        ):
            del _grants[key]


def _trim() -> None:
    """Under _lock: keeps the caches bounded (they refill from the full path)."""
    now = time.time()
    if len(_grants) > _CACHE_MAX:
        for key in [k for k, g in _grants.items() if g.ended(now)]:
            del _grants[key]
    if len(_segments) > _CACHE_MAX:
        _segments.clear()
        _clip_segments.clear()
    if len(_variants) > _CACHE_MAX:
        _variants.clear()


def prune(older_than_s: float = 3600) -> int:
    """Deletes revocation rows no process needs any more (housekeeping); gives how many. Rows still inside the window
    that fast fetches read are never deleted, whatever is asked."""
    from cradle.viewing.models import Revocation

    older_than_s = max(older_than_s, 2 * WINDOW_SECONDS)
    deleted, _ = Revocation.objects.filter(at__lt=timezone.now() - timedelta(seconds=older_than_s)).delete()
    return deleted
