"""What the family is told: that something is waiting, never what or whom it shows.

A notification passes through mail servers and push services outside the hospital, so it carries no health
information, no baby's nickname, bed or unit, and no link that names an admission: only that Cradle has something new.
Notices are sent by the background queue, as each person chose (cradle.notifications).
"""

from __future__ import annotations

from cradle.unit.models import Admission


def clip_waiting(admission: Admission) -> int:
    """Queues a notice for each family member that a new clip is waiting; gives how many."""
    from cradle.notifications.models import Kind
    from cradle.notifications.outbox import tell_family

    return tell_family(admission, Kind.CLIP)
