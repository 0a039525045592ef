"""Every trigger the migrations create is still there once all of them have run.

SQLite rebuilds a table for many schema changes (a new column with a default, a column made nullable) and drops the
table's triggers with it, silently: a unit whose second-step rule changed then wrote nothing to the revocation log,
and the fast path kept serving. Each migration that rebuilds such a table must drop and re-create them; this test
catches one that does not, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

_revocation = import_module("cradle.viewing.migrations.0005_revocation")
_second_step = import_module("cradle.unit.migrations.0006_family_second_step")
_append_only = import_module("cradle.audit.migrations.0002_append_only")


def _expected() -> set[tuple[str, str]]:
    """(trigger, table) for every trigger the migrations make on this database."""
    wanted = {(f"cradle_revoke_{name}", table) for name, table, *_rest in _revocation.TRIGGERS}
    wanted |= {(f"cradle_revoke_{name}", table) for name, table, *_rest in _second_step.TRIGGERS}
    if connection.vendor == "sqlite":
        wanted |= {("audit_event_no_update", "audit_event"), ("audit_event_no_delete", "audit_event")}
    else:
        wanted |= {("audit_event_append_only", "audit_event")}
    return wanted


def _present() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT DISTINCT trigger_name, event_object_table FROM information_schema.triggers")
        return {(name, table) for name, table in cursor.fetchall()}


def test_every_revocation_and_audit_trigger_exists_after_all_migrations():
    missing = _expected() - _present()
    assert not missing, f"triggers lost by a migration: {sorted(missing)}"
