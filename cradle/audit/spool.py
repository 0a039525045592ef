"""The audit spool: a local append-only file that holds media-fetch events until they are in the chain.

A picture may leave Cradle only once its audit event is durable. The database is the first place for it; when the
database refuses the write (read-only, full, unreachable), or when fetches are batched for throughput, the event is
appended here and the file fsynced before the answer is sent. Whoever can next write the database (the batch thread
of a web process, the worker, `cradle audit verify`, a process starting) merges the spool into the keyed chain, oldest
first, each event with its own time, and removes what it merged. When neither the database nor this file takes the
event, the fetch is refused (503) and nothing is served.

The file lives apart from the database (CRADLE_AUDIT_SPOOL_FILE, by default beside the master key), so a database on a
full or read-only disk does not take it down too. Each record is one line with an HMAC under the audit chain key, so a
record edited or made up by someone who can write the file is not merged (it is kept aside in `<file>.rejected` and
logged). Records are framed by a newline on both sides: a record cut short by a crash is dropped and cannot swallow
the next one. Merging is idempotent: if a merge's database commit lands and the process dies before the file is cut,
the next merge finds those events in the log and skips them.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from cradle.audit import chain
from cradle.audit.keys import audit_keys
from cradle.outage import StateLog

log = logging.getLogger(__name__)
cutting = StateLog(log, "cutting merged events off the audit spool")

MERGE_CHUNK = 2000
_READ_BYTES = 8 << 20  # a merge reads at most this much of the file at a time


class SpoolUnavailable(OSError):
    """The spool file cannot take an event (its disk is full or read-only, the folder is missing)."""


def path() -> Path:
    return Path(settings.AUDIT_SPOOL_FILE)


def _mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, b"cradle.audit-spool\n" + body, hashlib.sha256).hexdigest()


def encode(fields: dict[str, Any]) -> bytes:
    """One record: the event's canonical fields and their HMAC, framed by newlines."""
    fields = {**fields, "detail": json.loads(json.dumps(fields.get("detail") or {}, default=str))}
    body = chain.canonical(fields)
    return b"\n" + body + b"\t" + _mac(audit_keys().chain, body).encode() + b"\n"


def _decode(key: bytes, line: bytes) -> dict[str, Any] | None:
    body, _, mac = line.rpartition(b"\t")
    if not body or not hmac.compare_digest(_mac(key, body), mac.decode("ascii", "replace")):
        return None
    fields = json.loads(body)
    fields["at"] = datetime.strptime(fields["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return fields


class _Writer:
    """This process's handle on the spool: appends under the file's lock, and one fsync covers every record that
    threads of this process wrote before it (group commit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._descriptor: int | None = None
        self._where: tuple[str, int] | None = None
        self._written = 0
        self._synced = 0

    def _open(self, target: Path) -> int:
        """Under self._lock: a descriptor of the file at `target` now (a merge may have replaced it), locked."""
        for _ in range(8):
            if self._descriptor is None or self._where is None or self._where[0] != str(target):
                self._close()
                self._descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._where = (str(target), os.fstat(self._descriptor).st_ino)
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)
            try:
                current = os.stat(target).st_ino
            except FileNotFoundError:
                current = None
            if current == self._where[1]:
                return self._descriptor
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            self._close()
        raise OSError(f"the audit spool {target} keeps being replaced")

    def _close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
        self._descriptor, self._where = None, None

    def append(self, record: bytes) -> None:
        target = path()
        with self._lock:
            try:
                descriptor = self._open(target)
                try:
                    written = os.write(descriptor, record)
                    if written != len(record):
                        raise OSError(28, "short write")  # the rest did not fit: the record is torn, never merged
                finally:
                    fcntl.flock(descriptor, fcntl.LOCK_UN)
            except OSError as e:
                self._close()
                raise SpoolUnavailable(f"the audit spool {target} cannot be written ({e.strerror or e})") from None
            self._written += 1
            mine = self._written
        with self._sync_lock:
            if self._synced >= mine:
                return  # another thread's fsync, begun after this record was written, covered it
            with self._lock:
                upto = self._written
                # A descriptor of its own: another thread may close or replace this process's while it syncs.
                own = os.dup(self._descriptor) if self._descriptor is not None else None
            if own is None:
                raise SpoolUnavailable(f"the audit spool {target} was closed before it was synced")
            try:
                os.fdatasync(own)
            except OSError as e:
                with self._lock:
                    self._close()
                raise SpoolUnavailable(f"the audit spool {target} cannot be synced ({e.strerror or e})") from None
            finally:
                os.close(own)
            self._synced = upto


_writer = _Writer()


def close() -> None:
    """Lets go of this process's descriptor of the spool (before its disk is unmounted, say)."""
    with _writer._lock:
        _writer._close()


def append(fields: dict[str, Any]) -> None:
    """Makes one event durable in the spool; SpoolUnavailable when the file cannot take it."""
    _writer.append(encode(fields))


def pending() -> bool:
    """Whether the spool holds anything (one stat)."""
    try:
        return os.stat(path()).st_size > 1
    except OSError:
        return False


@contextmanager
def _file_lock(descriptor: int) -> Iterator[None]:
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def merge() -> int:
    """Appends every complete record of the spool to the chain, oldest first, and removes them from the file; gives how
    many events were appended. DatabaseError when the database cannot take them (the spool keeps them). Only one
    process merges at a time; another one finding the merge busy gives 0 at once."""
    target = path()
    if not pending():
        return 0
    guard = os.open(f"{target}.merging", os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(guard, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        merged = 0
        while True:
            done, more = _merge_once(target)
            merged += done
            if not more:
                return merged
    finally:
        os.close(guard)


def _merge_once(target: Path) -> tuple[int, bool]:
    """Merges up to MERGE_CHUNK records; gives how many were appended and whether more are left."""
    try:
        descriptor = os.open(target, os.O_RDWR)
    except FileNotFoundError:
        return 0, False
    try:
        with _file_lock(descriptor):
            data = os.pread(descriptor, min(os.fstat(descriptor).st_size, _READ_BYTES), 0)
        key = audit_keys().chain
        lines: list[bytes] = []
        consumed, more = 0, False
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                # A record still being written, or one cut short, or the end of what was read this time.
                more = len(data) == _READ_BYTES
                break
            line = data[start:end]
            if line:
                if len(lines) >= MERGE_CHUNK:
                    more = True
                    break
                lines.append(line)
            start = consumed = end + 1
        events, rejected = [], []
        for line in lines:
            try:
                fields = _decode(key, line)
            except (ValueError, KeyError, TypeError):
                fields = None
            if fields is None:
                rejected.append(line)
            else:
                events.append(fields)
        appended = _append_new(events)
        if rejected:  # once the rest is in the log: a merge retried through an outage sets them aside once
            _reject(target, rejected)
        with _file_lock(descriptor):
            try:
                _cut(target, descriptor, consumed)
            except OSError as e:
                # The events are in the log; the next merge finds them there and skips them.
                cutting.failed(e)
                return appended, False
            cutting.ok()
        return appended, more
    finally:
        os.close(descriptor)


def _append_new(events: list[dict[str, Any]]) -> int:
    """Appends the events the log does not hold yet (an earlier merge may have committed and died before the cut)."""
    if not events:
        return 0
    keys = {chain.canonical(e) for e in events}
    with transaction.atomic():
        from cradle.audit.models import Event

        held = Event.objects.filter(
            at__gte=min(e["at"] for e in events),
            at__lte=max(e["at"] for e in events),
            action__in={e["action"] for e in events},
        )
        present = set()
        for event in held.iterator():
            fields = chain.event_fields(event)
            fields.pop("seq")
            canonical = chain.canonical(fields)
            if canonical in keys:
                present.add(canonical)
        fresh = [e for e in events if chain.canonical(e) not in present]
        chain.append_many(fresh)
    return len(fresh)


def _cut(target: Path, descriptor: int, consumed: int) -> None:
    """Under the file's lock: removes the first `consumed` bytes, keeping what was appended meanwhile."""
    size = os.fstat(descriptor).st_size
    if consumed >= size:
        os.ftruncate(descriptor, 0)
        os.fsync(descriptor)
        return
    if consumed == 0:
        return
    rest = os.pread(descriptor, size - consumed, consumed)
    temporary = f"{target}.cut"
    out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if os.write(out, rest) != len(rest):
            raise OSError(28, "No space left on device")
        os.fsync(out)
    except OSError:
        os.close(out)
        os.unlink(temporary)
        raise
    os.close(out)
    os.replace(temporary, target)  # writers waiting on the old file's lock see the new inode and reopen
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _reject(target: Path, lines: list[bytes]) -> None:
    with open(f"{target}.rejected", "ab") as out:
        out.write(b"".join(line + b"\n" for line in lines))
        out.flush()
        os.fsync(out.fileno())
    log.error(
        "%d record(s) of the audit spool %s were cut short or altered (their seal does not match) and were not merged; "
        "they are kept in %s",
        len(lines),
        target,
        f"{target}.rejected",
    )
