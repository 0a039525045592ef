"""The grants of the fast path (cradle.viewing.fastpath) and what it keeps beside them, in one object per process.

When the full path has authorised a family viewer's playlist, key, segment or state check, this process remembers a
grant: this session cookie, this device session, this admission (live, one clip, or the player's state checks), until
the earliest of about five minutes from now and the device session's idle and absolute ends (the fast path keeps the
session's last-seen time, as the full path does).

A grant never outlives what could take it away. Database triggers (viewing migration 0005) write a Revocation row for
every change that may: a session deleted or ended, an account deactivated, suspended or given a new password or a
staff role, a family membership changed, an admission changed (discharge, transfer, withdrawn consent, shredding), a
clip deleted. Before a grant is used, the revocation log is read (one indexed query when nothing changed) and the
grants it names are dropped. Staff never get a grant.

The cache also keeps what the fast path would otherwise ask the database for every second: the segments the full path
has shown a viewer, each account's variant of a segment (which never changes once recorded), the newest segments of a
picture, the playlists made from them, and the headers the full path's answers carry.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from cradle.request import SignedInRequest
from cradle.viewing import answer, delivery
from cradle.viewing.answer import Picture, Segment, Viewer

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
# The newest segments of a picture are looked up at most this often (every viewer reloads every second).
NEWEST_SECONDS = 0.25
# The grant key's clip part for a player's state checks: a grant of its own, so that it never stands in for the
# full path's first playlist (where the bulk-access rules run).
STATUS = -1
_CACHE_MAX = 200_000
_HISTORY_MAX = 10_000
_HEADERS_LEFT_OUT = {"content-length", "x-accel-redirect", "set-cookie", "expires"}


@dataclass
class Grant:
    session_key: str
    viewer: Viewer
    picture: Picture
    clip_id: int  # 0: live; STATUS: the player's state checks
    ip: str | None
    until: float  # the grant's own end: its lifetime, the device session's absolute end, a clip's grace period
    idle_s: int  # the device session's idle time-out
    seen: float  # when the device session was last seen (brought forward by the fast path too)

    def ended(self, now: float) -> bool:
        return now >= self.until or now >= self.seen + self.idle_s


class GrantCache:
    """The grants of one process and what the fast path keeps beside them; safe to share between its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (session key, admission, clip or 0 or STATUS): a session key belongs to one device session.
        self._grants: dict[tuple[str, int, int], Grant] = {}
        self._segments: dict[int, Segment] = {}
        self._clip_segments: set[tuple[int, int]] = set()
        self._variants: dict[tuple[int, int, int], str] = {}
        self._headers: dict[str, dict[str, str]] = {}  # learnt from the full path's answers, by kind
        self._log_state: tuple | None = None
        self._applied: dict[int, float] = {}
        # The revocations this process has applied, in order (the newest _HISTORY_MAX); _history_start numbers the
        # first.
        self._history: list[tuple[str, str]] = []
        self._history_start = 0
        self._newest: dict[tuple[int, int], tuple[float, list]] = {}  # (admission, bed): (looked up, segments)
        self._bodies: dict[tuple, bytes] = {}  # (device session, segment ids): the playlist

    def reset(self) -> None:
        """Forgets every grant and everything cached (tests; a process that lost track)."""
        with self._lock:
            self._history_start += len(self._history)
            self._history.clear()
            self._grants.clear()
            self._segments.clear()
            self._clip_segments.clear()
            self._variants.clear()
            self._applied.clear()
            self._newest.clear()
            self._bodies.clear()
            self._headers = {}
            self._log_state = None

    def held(self) -> list[Grant]:
        """The grants held now (some may have ended without being dropped yet)."""
        with self._lock:
            return list(self._grants.values())

    # The headers of each kind of answer.

    def headers(self, kind: str) -> dict[str, str] | None:
        """The headers the full path's answers of this kind carry (those the middleware after the fast path add
        too), or None before one was seen."""
        return self._headers.get(kind)

    def learn(self, kind: str, response: HttpResponse) -> None:
        if kind not in self._headers and response.status_code == 200:
            self._headers[kind] = {k: v for k, v in response.items() if k.lower() not in _HEADERS_LEFT_OUT}

    # Grants.

    def mark(self) -> int:
        """Where the revocation history stands: a grant made later applies what was read since (see `grant`)."""
        return self._history_start + len(self._history)

    def note_segments(self, clip_id: int, segments: Iterable[Any]) -> None:
        """Notes segment rows the full path showed a viewer (of this clip, when `clip_id` > 0)."""
        with self._lock:
            self._trim()
            for row in segments:
                self._segments[row.pk] = Segment.of(row)
                if clip_id > 0:
                    self._clip_segments.add((clip_id, row.pk))

    def grant(self, grant: Grant, mark: int) -> None:
        """Keeps a grant made by the full path, which began deciding when the revocation history stood at `mark`."""
        with self._lock:
            # A revocation that another thread of this process read while the full path was deciding was applied
            # before this grant existed: apply those again, now that it does.
            if mark < self._history_start:
                return  # too much happened meanwhile to tell: no grant this time
            self._grants[(grant.session_key, grant.picture.admission_id, grant.clip_id)] = grant
            for kind, subject in self._history[mark - self._history_start :]:
                self._revoke(kind, subject)

    def wants(self, session_key: str, admission_id: int, clip_id: int) -> bool:
        """Whether a grant for this would be new, or renew one past half its life."""
        held = self._grants.get((session_key, admission_id, clip_id))
        return held is None or held.ended(time.time() + GRANT_SECONDS / 2)

    def granted(
        self, session_key: str, admission_id: int, clip_id: int, device_id: int | None
    ) -> tuple[Grant | None, str]:
        """The grant for this fetch, once the revocation log has been read; or why there is none. Brings the device
        session's last-seen time forward (cradle.audit.batch.touch) as the full path would."""
        from cradle.audit import batch

        key = (session_key, admission_id, clip_id)
        grant = self._grants.get(key)
        if grant is None or (device_id is not None and grant.viewer.pk != device_id):
            return None, "no_grant"
        now = time.time()
        if grant.ended(now):
            return None, "grant_ended"
        self.follow_revocations()
        if self._grants.get(key) is not grant:
            return None, "revoked"
        if now - grant.seen > TOUCH_SECONDS:
            grant.seen = now
            batch.touch(grant.viewer.pk)
        return grant, ""

    def follow_revocations(self) -> None:
        """Drops the grants named by revocations written since the last look (one query when nothing changed)."""
        since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=WINDOW_SECONDS))
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*), MAX(id), SUM(id) FROM viewing_revocation WHERE at >= %s", [since])
            state = tuple(cursor.fetchone())
            if state == self._log_state:
                return
            cursor.execute("SELECT id, kind, subject FROM viewing_revocation WHERE at >= %s", [since])
            rows = cursor.fetchall()
        with self._lock:
            for pk, kind, subject in rows:
                if pk not in self._applied:
                    self._applied[pk] = time.time()
                    self._revoke(kind, subject)
                    self._history.append((kind, subject))
            if len(self._history) > _HISTORY_MAX:
                cut = len(self._history) - _HISTORY_MAX // 2
                self._history_start += cut
                del self._history[:cut]
            oldest = time.time() - 2 * WINDOW_SECONDS
            for pk in [pk for pk, at in self._applied.items() if at < oldest]:
                del self._applied[pk]
            self._log_state = state

    def _revoke(self, kind: str, subject: str) -> None:
        """Under the lock: drops the grants a revocation names."""
        if kind == "clip":
            clip_id = int(subject)
            self._clip_segments.difference_update({pair for pair in self._clip_segments if pair[0] == clip_id})
        for key, grant in list(self._grants.items()):
            if (
                (kind == "session" and grant.session_key == subject)
                or (kind == "user" and str(grant.viewer.user_id) == subject)
                or (kind == "admission" and str(grant.picture.admission_id) == subject)
                or (kind == "clip" and str(grant.clip_id) == subject)
            ):
                del self._grants[key]

    def _trim(self) -> None:
        """Under the lock: keeps the caches bounded (they refill from the full path)."""
        now = time.time()
        if len(self._grants) > _CACHE_MAX:
            for key in [k for k, g in self._grants.items() if g.ended(now)]:
                del self._grants[key]
        if len(self._segments) > _CACHE_MAX:
            self._segments.clear()
            self._clip_segments.clear()
        if len(self._variants) > _CACHE_MAX:
            self._variants.clear()

    # What the fast path keeps beside the grants.

    def segment(self, segment_id: int, clip_id: int) -> Segment | None:
        """A segment the full path has shown (of this clip, when `clip_id`), or None."""
        seen = self._segments.get(segment_id)
        if seen is None or (clip_id and (clip_id, segment_id) not in self._clip_segments):
            return None
        return seen

    def variant(self, viewer: Viewer, row: Segment) -> str:
        """The account's variant of a segment (cradle.viewing.answer.variant), remembered: it never changes once
        recorded."""
        key = (viewer.user_id, row.camera_id, row.index)
        variant = self._variants.get(key)
        if variant is None:
            variant = answer.variant(viewer, row)
            self._variants[key] = variant
        return variant

    def newest(self, picture: Picture) -> list:
        """The admission's newest segments on its bed's camera, as the full path lists them; looked up at most every
        NEWEST_SECONDS in this process."""
        now = time.monotonic()
        held = self._newest.get((picture.admission_id, picture.bed_id))
        if held is not None and now - held[0] < NEWEST_SECONDS:
            return held[1]
        count = settings.CRADLE.live_playlist_segments
        fields = ("pk", "camera_id", "admission_id", "index", "started_at", "created_at", "duration")
        rows = delivery.live_rows(picture.admission_id, picture.bed_id)
        segments = list(reversed(rows.only(*fields)[:count]))
        with self._lock:
            if len(self._newest) > _CACHE_MAX // 10:
                self._newest.clear()
            self._newest[(picture.admission_id, picture.bed_id)] = (now, segments)
            for row in segments:
                self._segments[row.pk] = Segment.of(row)
        return segments

    def playlist(self, viewer: Viewer, segments: list, make: Callable[[], bytes]) -> bytes:
        """A session's live playlist follows from its segments alone (addresses count from each segment's making):
        the same segments give the same playlist, so a reload between two new segments is made once."""
        shape = (viewer.pk, tuple(row.pk for row in segments))
        body = self._bodies.get(shape)
        if body is None:
            body = make()
            with self._lock:
                if len(self._bodies) > _CACHE_MAX // 10:
                    self._bodies.clear()
                self._bodies[shape] = body
        return body


def cache() -> GrantCache:
    """This process's grant cache (one, made by the viewing app at start-up)."""
    from cradle.viewing.apps import ViewingConfig

    return cast(ViewingConfig, apps.get_app_config("viewing")).grants


def enabled() -> bool:
    return settings.CRADLE.fast_path


def remember(request: HttpRequest, admission: Any, clip_id: int = 0, segments: Iterable[Any] = ()) -> None:
    """Called by the full path once it has authorised a fetch of this admission's live picture (clip_id 0), of one
    clip, or a state check of its player (STATUS): grants this session the fast path for it, and notes the segments
    the viewer may ask for next. Staff never get a grant; nor does a request the fast path's middleware did not see
    begin."""
    if not enabled():
        return
    from cradle.request import client_ip
    from cradle.scope import is_staff, second_step_standing

    device = getattr(request, "device_session", None)
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    mark = getattr(request, "grant_mark", None)
    user = request.user
    if device is None or not session_key or mark is None or not user.is_authenticated or is_staff(user):
        return
    grants = cache()
    grants.note_segments(clip_id, segments)
    if not grants.wants(session_key, admission.pk, clip_id):
        return
    now = timezone.now()
    lifetime = min(GRANT_SECONDS * random.uniform(0.8, 1.2), GRANT_MAX_SECONDS)  # noqa: S311 - spreading, not secrecy
    ends = [now + timedelta(seconds=lifetime), device.created_at + timedelta(seconds=device.lifetime_s)]
    if clip_id > 0 and admission.discharged_at is not None:
        ends.append(admission.clips_until)
    if (second_step_until := second_step_standing(user, admission).grace_until) is not None:
        ends.append(second_step_until)  # watching without a second step: not past the unit's grace period
    grant = Grant(
        session_key=session_key,
        viewer=Viewer.of(cast(SignedInRequest, request)),  # signed in: checked above
        picture=Picture.of(admission),
        clip_id=clip_id,
        ip=client_ip(request),
        until=min(ends).timestamp(),
        idle_s=device.idle_timeout_s,
        seen=device.last_seen_at.timestamp(),
    )
    grants.grant(grant, mark)


def prune(older_than_s: float = 3600) -> int:
    """Deletes revocation rows no process needs any more (housekeeping); gives how many. Rows still inside the window
    that fast fetches read are never deleted, whatever is asked."""
    from cradle.viewing.models import Revocation

    older_than_s = max(older_than_s, 2 * WINDOW_SECONDS)
    deleted, _ = Revocation.objects.filter(at__lt=timezone.now() - timedelta(seconds=older_than_s)).delete()
    return deleted
