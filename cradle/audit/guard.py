"""Lets the append-only guard on SQLite tell a sanctioned wipe from any other delete of audit events.

The SQLite trigger asks `cradle_audit_maintenance()`, a function that only Cradle's own connections define; any other
client (the sqlite3 shell, another program) has no such function, so its deletes fail too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.signals import connection_created

_maintenance = False


@contextmanager
def maintenance() -> Iterator[None]:
    """Allows deleting audit events for the duration, e.g. to wipe a test database."""
    global _maintenance
    previous, _maintenance = _maintenance, True
    try:
        yield
    finally:
        _maintenance = previous


def _flag() -> int:
    return 1 if _maintenance else 0


def _register(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("cradle_audit_maintenance", 0, _flag)


def install() -> None:
    connection_created.connect(_register, dispatch_uid="cradle.audit.guard")
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _register(None, conn)
