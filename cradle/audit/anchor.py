"""The audit anchor: authenticated checkpoints of the chain's head, in a file beside the master key, not the database.

Whoever can write the database can rewrite the events and the chain head row alike, and could cut the log's tail and
move the head back. They cannot write a checkpoint here: each line holds an event's number and hash, the time, and the
first event whose link is keyed, with an HMAC over that and the previous line's HMAC under a key derived from the master
key. `cradle audit verify` checks that every checkpointed event is still there with the same hash and that the log does
not end before the newest one.

A checkpoint is added after every committed append, under an exclusive lock on the file, and only if it is ahead of the
newest one (several processes and threads append, and their commits may reach here out of order). Appending one line is
a single write; once the file passes COMPACT_BYTES it is replaced, atomically, by its newest checkpoint, plus any older
one whose event is no longer in the log with that hash (a tail cut and then written over by new events stays visible).
That loses nothing: the keyed chain ties every earlier event to the newest checkpointed one, so older checkpoints that
still match add no protection, and the file stays small however long Cradle runs. A line cut short by a crash is
dropped, never trusted.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import logging
import logging.handlers
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from cradle.audit.keys import audit_keys
from cradle.audit.models import Event

HEADER = "cradle-audit-anchor-v1"
START = "0" * 64
COMPACT_BYTES = 64 * 1024
LOCK_WAIT_SECONDS = 2.0
KEEP_GONE = 16  # checkpoints of events no longer in the log, kept through compaction as evidence
_TAIL_BYTES = 4096
_LINE = re.compile(r"(\d{1,19})\t([0-9a-f]{64})\t([0-9TZ:-]{20})\t(\d{1,19})\t([0-9a-f]{64})")

log = logging.getLogger(__name__)


class AnchorError(Exception):
    """The anchor is altered, emptied or unreadable; the message is one sentence."""


class AnchorMissing(AnchorError):
    """There is no anchor file."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Event `seq` had hash `hash` at `at`; links from event `keyed_from` on are keyed (those before predate keying)."""

    seq: int
    hash: str
    at: str
    keyed_from: int

    @classmethod
    def now(cls, seq: int, hash: str, keyed_from: int) -> Checkpoint:
        return cls(seq, hash, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), keyed_from)

    def content(self) -> str:
        return f"{self.seq}\t{self.hash}\t{self.at}\t{self.keyed_from}"


def _mac(key: bytes, previous: str, content: str) -> str:
    return hmac.new(key, f"{previous}\n{content}".encode(), hashlib.sha256).hexdigest()


def _parse(line: str) -> tuple[Checkpoint, str] | None:
    match = _LINE.fullmatch(line)
    if match is None:
        return None
    seq, digest, at, keyed_from, mac = match.groups()
    return Checkpoint(int(seq), digest, at, int(keyed_from)), mac


class Anchor:
    """The anchor file at `path`, authenticated with `key` (the audit anchor key derived from the master key)."""

    def __init__(self, path: str | Path, key: bytes) -> None:
        self.path = Path(path)
        self._key = key

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first; AnchorMissing without a file, AnchorError when it was tampered with."""
        try:
            text = self.path.read_bytes().decode("ascii")
        except FileNotFoundError:
            raise AnchorMissing(f"The audit anchor {self.path} is missing.") from None
        except (OSError, UnicodeDecodeError):
            raise AnchorError(f"The audit anchor {self.path} cannot be read; put the original file back.") from None
        lines = text.split("\n")[:-1]  # what follows the last newline is a write cut short: never trusted
        if not lines or lines[0] != HEADER:
            raise AnchorError(f"The audit anchor {self.path} was altered at line 1; put the original file back.")
        found, previous = [], START
        for number, line in enumerate(lines[1:], 2):
            parsed = _parse(line)
            if parsed is None or not hmac.compare_digest(_mac(self._key, previous, parsed[0].content()), parsed[1]):
                raise AnchorError(
                    f"The audit anchor {self.path} was altered at line {number}; put the original file back."
                )
            found.append(parsed[0])
            previous = parsed[1]
        if not found:
            raise AnchorError(
                f"The audit anchor {self.path} holds no checkpoint (emptied); put the original file back."
            )
        return found

    def advance(self, seq: int, digest: str, first_seq: int) -> bool:
        """Adds a checkpoint for event `seq` unless the anchor already holds a later one; gives whether it did.

        `first_seq` is the first event of the transaction being anchored: the anchor is created only by the log's very
        first event (a new installation), never to replace one that went missing while the log held events.
        """
        for _ in range(8):  # a compaction in another process may replace the file between open and lock
            try:
                descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                if first_seq != 1:
                    raise AnchorMissing(f"The audit anchor {self.path} is missing.") from None
                if self._create(Checkpoint.now(seq, digest, keyed_from=1)):
                    return True
                continue
            try:
                self._lock(descriptor)
                if os.fstat(descriptor).st_ino != _inode(self.path):
                    continue
                newest, previous, size = self._newest(descriptor)
                if seq <= newest.seq:
                    return False
                checkpoint = Checkpoint.now(seq, digest, newest.keyed_from)
                line = f"{checkpoint.content()}\t{_mac(self._key, previous, checkpoint.content())}\n".encode()
                os.write(descriptor, line)
                if size + len(line) > COMPACT_BYTES:
                    self._compact()
                _ship(line)
                return True
            finally:
                os.close(descriptor)  # closing releases the lock
        raise AnchorError(f"The audit anchor {self.path} keeps being replaced while it is written.")

    def reset(self, checkpoint: Checkpoint) -> None:
        """Replaces the anchor by this one checkpoint (a restore, the first keying of an older log, a lost anchor)."""
        try:
            descriptor = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            self._replace([checkpoint])
            return
        try:
            self._lock(descriptor)
            self._replace([checkpoint])
        finally:
            os.close(descriptor)

    def _lock(self, descriptor: int) -> None:
        """Takes the file's exclusive lock, waiting at most LOCK_WAIT_SECONDS: a process stopped while holding it must
        not hold up every audited request; a skipped checkpoint is made good by the next one."""
        deadline, pause = time.monotonic() + LOCK_WAIT_SECONDS, 0.0005
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AnchorError(
                        f"The audit anchor {self.path} stayed locked by another process for {LOCK_WAIT_SECONDS:g} s."
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)

    def _compact(self) -> None:
        """Replaces the file by its newest checkpoint, keeping (a few of) those whose event is no longer in the log
        as it was: a tail cut and written again must stay visible after the file is compacted."""
        try:
            held = self.checkpoints()
        except AnchorError:
            return  # altered: left as it is for `cradle audit verify` to report
        *older, newest = held
        stored = dict(Event.objects.filter(seq__in=[c.seq for c in older]).values_list("seq", "hash"))
        gone = [c for c in older if c.seq and stored.get(c.seq) != c.hash][:KEEP_GONE]
        self._replace([*gone, newest])

    def _newest(self, descriptor: int) -> tuple[Checkpoint, str, int]:
        """The last checkpoint, its HMAC and the file's size, read from the end; a torn last line is cut off."""
        size = os.fstat(descriptor).st_size
        start = max(0, size - _TAIL_BYTES)
        tail = os.pread(descriptor, size - start, start)
        end = tail.rfind(b"\n")
        if end < 0:
            raise AnchorError(f"The audit anchor {self.path} was altered at its end; put the original file back.")
        if end < len(tail) - 1:
            os.ftruncate(descriptor, start + end + 1)
            size = start + end + 1
            tail = tail[: end + 1]
        last = tail[:-1].rpartition(b"\n")[2].decode("ascii", "replace")
        parsed = _parse(last)
        if parsed is None:
            raise AnchorError(f"The audit anchor {self.path} was altered at its end; put the original file back.")
        return parsed[0], parsed[1], size

    def _text(self, checkpoints: list[Checkpoint]) -> str:
        lines, previous = [HEADER], START
        for checkpoint in checkpoints:
            previous = _mac(self._key, previous, checkpoint.content())
            lines.append(f"{checkpoint.content()}\t{previous}")
        return "\n".join(lines) + "\n"

    def _create(self, checkpoint: Checkpoint) -> bool:
        """Creates the anchor unless another process just did; whole or not at all."""
        temporary = self._write_temporary([checkpoint])
        try:
            os.link(temporary, self.path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        _sync_folder(self.path.parent)
        return True

    def _replace(self, checkpoints: list[Checkpoint]) -> None:
        temporary = self._write_temporary(checkpoints)
        try:
            os.replace(temporary, self.path)
        except OSError:
            os.unlink(temporary)
            raise
        _sync_folder(self.path.parent)

    def _write_temporary(self, checkpoints: list[Checkpoint]) -> str:
        descriptor, temporary = tempfile.mkstemp(prefix=".audit-anchor-", dir=self.path.parent)  # mode 0600
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(self._text(checkpoints))
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            os.unlink(temporary)
            raise
        return temporary


def current() -> Anchor:
    """This installation's anchor (settings.AUDIT_ANCHOR_FILE); MasterKeyError when the master key is unusable."""
    return Anchor(settings.AUDIT_ANCHOR_FILE, audit_keys().anchor)


_failing: str | None = None


def after_commit(seq: int, digest: str, first_seq: int) -> None:
    """Checkpoints a committed append. The events are in the database already, so a failure here is logged (once per
    change of state, not per event) and found by `cradle audit verify`, never raised into the request."""
    global _failing
    try:
        current().advance(seq, digest, first_seq)
    except Exception as e:
        problem = str(e) if isinstance(e, AnchorError) else f"{type(e).__name__}: {e}"
        if problem != _failing:
            log.error("could not checkpoint the audit log: %s", problem)
            _failing = problem
        return
    if _failing is not None:
        log.warning("the audit log is checkpointed again")
        _failing = None


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


_shipper: tuple[str, logging.Logger] | None = None


def _ship(line: bytes) -> None:
    """Sends the checkpoint line, HMAC included, to syslog as well when CRADLE_AUDIT_SYSLOG names one: a copy off
    this machine that whoever holds the data folder cannot take back."""
    global _shipper
    address = settings.AUDIT_SYSLOG
    if not address:
        return
    if _shipper is None or _shipper[0] != address:
        logger = logging.getLogger("cradle.audit.checkpoints")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        if address.startswith("/"):
            target: str | tuple[str, int] = address
        else:
            host, _, port = address.rpartition(":")
            target = (host.strip("[]"), int(port))
        handler = logging.handlers.SysLogHandler(target, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV)
        handler.setFormatter(logging.Formatter("cradle-audit: checkpoint %(message)s"))
        logger.addHandler(handler)
        _shipper = (address, logger)
    _shipper[1].info(line.decode("ascii").rstrip("\n").replace("\t", " "))
