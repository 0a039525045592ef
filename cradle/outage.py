"""Outages of what Cradle depends on (the database, a disk, Redis), told once when they start and once when they end.

A process that retries every second through an outage must not write a traceback every second: the log would bury
the one line that matters. Each long-running loop keeps a StateLog per dependency and reports every attempt to it;
the log gets one line when the dependency fails (with the reason, in one line) and one when it is back (with how
long it was gone). Errors that are not outages still get their traceback, once per kind in a row.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import DatabaseError, InterfaceError, OperationalError

OUTAGES: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, DatabaseError, OSError)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


class StateLog:
    """One line per change of a dependency's state, not per attempt."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self.what = what
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._last_kind: str | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> None:
        """An attempt failed: an outage is logged when it starts; anything else once per kind in a row."""
        kind = type(error).__name__
        with self._lock:
            if isinstance(error, OUTAGES):
                if self.down_since is None:
                    self.down_since = time.monotonic()
                    self._log.warning("%s unavailable: %s", self.what, one_line(error))
                return
            if kind != self._last_kind:
                self._last_kind = kind
                self._log.error("%s failed", self.what, exc_info=error)

    def ok(self) -> None:
        """An attempt succeeded: the end of an outage is logged with its length."""
        with self._lock:
            self._last_kind = None
            if self.down_since is not None:
                gone = time.monotonic() - self.down_since
                self.down_since = None
                self._log.warning("%s available again after %.0f s", self.what, gone)
