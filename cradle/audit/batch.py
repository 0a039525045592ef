"""Media-fetch audit events, each durable before its answer, batched into the chain for throughput.

A picture, a playlist or a key leaves Cradle only once its audit event is durable: written to the database, or
appended to the local audit spool and fsynced (cradle.audit.spool). When neither takes it, `write` raises
AuditUnavailable, a DatabaseError, so the request is answered 503 and nothing is served.

A player asks for a segment every second, and one database transaction per fetch is what limits how many viewers a
machine can serve. With batching on (`AUDIT_BATCH_SECONDS`) a fetch's event goes to the spool, one short append and
fsync (shared by the threads writing at the same moment), and a background thread merges the spool into the chain
every `AUDIT_BATCH_SECONDS`. The first fetch of every session for a picture or clip goes to the database at once
(after what waits in the spool, which is older), so the log shows a viewing the moment it begins. With batching off
every event goes to the database, and to the spool only while the database refuses it; the thread then merges the
spool once the database takes writes again.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from cradle.audit import chain, spool
from cradle.outage import StateLog

log = logging.getLogger(__name__)
merging = StateLog(log, "the audit spool's merge into the database")

_lock = threading.Lock()
_seen: OrderedDict[str, None] = OrderedDict()  # "session:picture" keys whose first fetch is written
_SEEN_MAX = 50_000
_thread: threading.Thread | None = None
_wake = threading.Event()
_touched: set[int] = set()  # device sessions seen since the last flush (cradle.viewing.fastpath)
_RETRY_SECONDS = 1.0  # how often the thread tries to merge a spool while batching is off


class AuditUnavailable(DatabaseError):
    """Neither the database nor the audit spool can take a media fetch's event: nothing may be served."""


def _interval() -> float:
    return settings.CRADLE.audit_batch_seconds


def _first(first_key: str) -> bool:
    with _lock:
        first = first_key not in _seen
        if first:
            _seen[first_key] = None
            if len(_seen) > _SEEN_MAX:
                _seen.popitem(last=False)
    return first


def write(fields: dict[str, Any], first_key: str | None = None, *, at_once: bool = False) -> None:
    """Makes a media fetch's event durable before the fetch is answered; AuditUnavailable when it cannot.

    With batching on, the event goes to the spool unless it is the first fetch for `first_key` (a session and a
    picture) or `at_once`: those go to the database first. Whatever the database refuses goes to the spool."""
    if _interval() > 0 and not at_once and (first_key is None or not _first(first_key)):
        try:
            spool.append(fields)
            _start()
            return
        except spool.SpoolUnavailable:
            pass  # the database may still take it
    try:
        if spool.pending():
            with contextlib.suppress(OSError):  # a spool that cannot be read or cut now is merged later
                spool.merge()  # what waits in the spool is older: it goes first
        chain.append(**fields)
        return
    except DatabaseError as e:
        refused = e
    try:
        spool.append(fields)
    except spool.SpoolUnavailable as e:
        raise AuditUnavailable(f"the audit event cannot be written: {refused}; {e}") from refused
    _start()


def touch(device_pk: int) -> None:
    """Brings a device session's last-seen time forward at the next flush (one update for all of them), or at once
    when batching is off."""
    with _lock:
        _touched.add(device_pk)
    if _interval() <= 0:
        flush()
    else:
        _start()


def flush() -> int:
    """Merges the spool into the chain and brings touched sessions forward; gives how many events were merged.
    DatabaseError when the database refuses (the spool keeps its events)."""
    with _lock:
        touched = sorted(_touched)
        _touched.clear()
    merged = spool.merge()
    if touched:
        from django.utils import timezone

        from cradle.accounts.models import DeviceSession

        DeviceSession.objects.filter(pk__in=touched, ended_at__isnull=True).update(last_seen_at=timezone.now())
    return merged


def merge_left_over() -> None:
    """At a process's start: merges what the spool holds (events a stopped process left), or, while the database
    refuses, leaves the batch thread to retry until it takes them."""
    if spool.pending():
        _start()
        _wake.set()


def _run() -> None:
    while True:
        interval = _interval()
        _wake.wait(interval if interval > 0 else _RETRY_SECONDS)
        _wake.clear()
        try:
            flush()
            merging.ok()
        except Exception as e:
            merging.failed(e)
        finally:
            close_old_connections()
        if _interval() <= 0 and not spool.pending():
            # Batching is off and the spool is merged (tests turn batching on and off): the thread ends rather than
            # wait for nothing; `write` starts a new one when there is something to merge again.
            return


def _start() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        with _lock:
            if _thread is None or not _thread.is_alive():
                _thread = threading.Thread(target=_run, name="audit batch", daemon=True)
                _thread.start()


@atexit.register
def _at_exit() -> None:
    try:
        flush()
        connections.close_all()
    except Exception as e:
        if spool.pending():
            log.warning("the audit spool %s keeps events for the next process to merge: %s", spool.path(), e)
