"""The database itself refuses to change or delete audit events, whoever connects through the application.

On SQLite a delete is let through only inside cradle.audit.guard.maintenance() (a wipe of a test database); other
programs lack the function the trigger asks. PostgreSQL's TRUNCATE, which `flush` uses there, fires no row triggers.
"""

from django.db import migrations

SQLITE = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "WHEN NOT cradle_audit_maintenance() "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
]
POSTGRES = [
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql;",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();",
]
DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_event_no_update;",
        "DROP TRIGGER IF EXISTS audit_event_no_delete;",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event;",
        "DROP FUNCTION IF EXISTS audit_event_append_only();",
    ],
}


def forwards(apps, schema_editor):
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    for sql in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
