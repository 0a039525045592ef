"""Who watched a baby, as its parents read it: on their page and through the API, the same viewings from the same
audit events, and the same audit event of their reading them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cradle import scope
from cradle.audit.actions import WATCH_ACTIONS, Action
from cradle.audit.log import record
from cradle.audit.models import Event
from cradle.request import SignedInRequest
from cradle.unit.models import Admission, StaffMembership


@dataclass
class Watch:
    """One viewing as a parent reads it: who, how (page, live, a clip, an update's photo), from when until when."""

    who: str
    actor_id: int | None
    kind: str
    start: datetime
    end: datetime


# Fetches of one session closer together than this are one viewing; a longer pause starts a new one.
VIEWING_GAP = timedelta(minutes=10)


def watches(admission_id: int, limit: int = 20000) -> list[Watch]:
    """The newest viewings of a baby: a player's many fetches, and a session's openings of the page, count as one
    viewing until they pause for VIEWING_GAP. The player's state checks (`baby.status`) are audited but are not
    viewings, so they are not here."""
    events = (
        Event.objects.filter(admission_id=admission_id, action__in=WATCH_ACTIONS, outcome="ok")
        .order_by("-seq")
        .values("actor_id", "actor_name", "action", "session", "at", "detail")[:limit]
    )
    current: dict[tuple, Watch] = {}
    found: list[Watch] = []
    for e in events:
        kind = e["action"].split(".")[0]  # baby, live, clip, update
        key = (e["actor_id"], e["session"], kind, e["detail"].get("clip") if kind == "clip" else None)
        watch = current.get(key)
        if watch is None or watch.start - e["at"] > VIEWING_GAP:
            watch = current[key] = Watch(e["actor_name"], e["actor_id"], kind, e["at"], e["at"])
            found.append(watch)
        else:
            watch.start = min(watch.start, e["at"])
    return sorted(found, key=lambda w: w.end, reverse=True)


@dataclass
class Viewings:
    admission: Admission
    watches: list[Watch]
    staff_ids: set[int]  # accounts of the unit's care team, named as such

    def by_staff(self, watch: Watch) -> bool:
        return watch.actor_id in self.staff_ids


def who_watched(request: SignedInRequest, admission_id: int, **detail: str) -> Viewings:
    """The viewings of a baby for one of its parents (a 404 for anyone else), audited as read."""
    admission = scope.get_parent_admission(request.user, admission_id)
    found = watches(admission.pk)
    staff_ids = set(StaffMembership.objects.filter(unit_id=admission.unit_id).values_list("user_id", flat=True))
    record(request, Action.AUDIT_WHO_WATCHED_VIEW, admission=admission, **detail)
    return Viewings(admission, found, staff_ids)
