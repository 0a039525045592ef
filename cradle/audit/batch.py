"""Batched audit writes for media fetches: a player asks for a segment every second, and one transaction per fetch
is what limits how many viewers a machine can serve.

Each process keeps a short queue that a background thread appends to the chain every `AUDIT_BATCH_SECONDS`. The first
fetch of every session for a picture or clip never waits in it, so a crash loses at most the last fraction of a second
of an ongoing viewing, never the fact that it began.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

from cradle.audit import chain

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: list[dict[str, Any]] = []
_seen: OrderedDict[str, None] = OrderedDict()  # "session:picture" keys whose first fetch is written
_SEEN_MAX = 50_000
_thread: threading.Thread | None = None
_wake = threading.Event()
_touched: set[int] = set()  # device sessions seen since the last flush (cradle.viewing.fastpath)


def _interval() -> float:
    return float(settings.CRADLE.get("AUDIT_BATCH_SECONDS", 0) or 0)


def later(first_key: str, fields: dict[str, Any]) -> bool:
    """Queues `fields` and gives True, unless batching is off or this is the first fetch for `first_key` (False:
    the caller writes it at once)."""
    if _interval() <= 0:
        return False
    with _lock:
        first = first_key not in _seen
        if first:
            _seen[first_key] = None
            if len(_seen) > _SEEN_MAX:
                _seen.popitem(last=False)
    return not first and queue(fields)


def queue(fields: dict[str, Any]) -> bool:
    """Queues `fields` and gives True, unless batching is off (False: the caller writes it at once). For fetches whose
    viewing's beginning is already written (the fast path's: its grant came from a full-path fetch, audited at once)."""
    if _interval() <= 0:
        return False
    with _lock:
        _pending.append(fields)
        full = len(_pending) >= settings.CRADLE.get("AUDIT_BATCH_MAX", 500)
    _start()
    if full:
        _wake.set()
    return True


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
    """Writes everything queued; gives how many events."""
    with _lock:
        items = _pending[:]
        _pending.clear()
        touched = sorted(_touched)
        _touched.clear()
    if items:
        chain.append_many(items)
    if touched:
        from django.utils import timezone

        from cradle.accounts.models import DeviceSession

        DeviceSession.objects.filter(pk__in=touched, ended_at__isnull=True).update(last_seen_at=timezone.now())
    return len(items)


def _run() -> None:
    while True:
        interval = _interval()
        if interval > 0:
            _wake.wait(interval)
            _wake.clear()
        try:
            flush()
        except Exception:
            log.exception("could not write a batch of audit events")
        finally:
            close_old_connections()
        if interval <= 0:
            # Batching was turned off while the thread ran (tests turn it on and off): what was queued is written, and
            # the thread ends rather than spin on a wait of no time; `later` starts a new one if batching comes back.
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
    except Exception:
        log.exception("could not write the last audit events")
