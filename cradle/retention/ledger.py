"""The shred ledger: an append-only, authenticated list of every admission whose data key was destroyed.

It lives beside the master key, outside the database and outside every backup, so that restoring an older backup
(which still holds a wrapped key that was destroyed since) cannot bring that key back: restore replays the ledger and
destroys each listed key again. Each line carries an HMAC over its content and the previous line's HMAC, under a key
derived from the master key, so a line removed, altered or reordered is detected and restore stops.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cradle.media.store import MasterKey

HEADER = "cradle-shred-ledger-v1"
START = "0" * 64
_FIELD = re.compile(r"[A-Za-z0-9_.:+-]{1,64}")


class LedgerError(Exception):
    """The ledger was altered or cannot be read; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class Entry:
    media_id: str
    at: str
    reason: str


def _key(master: MasterKey) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"cradle.shred-ledger.v1").derive(master.secret)


def _mac(key: bytes, previous: str, content: str) -> str:
    return hmac.new(key, f"{previous}\n{content}".encode(), hashlib.sha256).hexdigest()


class ShredLedger:
    """The ledger file at `path`, authenticated with a key derived from `master`."""

    def __init__(self, path: str | Path, master: MasterKey) -> None:
        self.path = Path(path)
        self._key = _key(master)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield descriptor
        finally:
            os.close(descriptor)  # closing releases the lock

    def _read(self) -> tuple[list[Entry], str]:
        try:
            lines = self.path.read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            return [], START
        except (OSError, UnicodeDecodeError):
            raise LedgerError(f"The shred ledger {self.path} cannot be read; restore it from where it was.") from None
        entries, previous = [], START
        for number, line in enumerate(lines, 1):
            if number == 1 and line == HEADER:
                continue
            parts = line.split("\t")
            if len(parts) != 4 or not hmac.compare_digest(_mac(self._key, previous, "\t".join(parts[:3])), parts[3]):
                raise LedgerError(
                    f"The shred ledger {self.path} was altered at line {number}; restore the original file."
                )
            entries.append(Entry(*parts[:3]))
            previous = parts[3]
        return entries, previous

    def entries(self) -> list[Entry]:
        """Every destroyed key, oldest first; LedgerError when the file was tampered with."""
        return self._read()[0]

    def media_ids(self) -> set[str]:
        return {e.media_id for e in self.entries()}

    def append(self, media_id: str, at: datetime, reason: str) -> None:
        """Records that `media_id`'s key is being destroyed; written and flushed to disk before the key goes."""
        for value in (media_id, reason):
            if not _FIELD.fullmatch(value):
                raise LedgerError(f"{value!r} cannot be written to the shred ledger.")
        content = "\t".join((media_id, at.isoformat(timespec="seconds"), reason))
        with self._locked() as descriptor:
            _, previous = self._read()
            text = ("" if os.fstat(descriptor).st_size else HEADER + "\n") + f"{content}\t"
            text += _mac(self._key, previous, content) + "\n"
            os.write(descriptor, text.encode("ascii"))
            os.fsync(descriptor)
