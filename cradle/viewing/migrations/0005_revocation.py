"""The revocation log and the triggers that fill it (see Revocation and cradle.viewing.fastpath)."""

from django.db import migrations, models

# (name, table, event, condition or "", kind, subject). A condition compares OLD and NEW; `changed(x)` is a
# null-safe "column x changed" in either database.
TRIGGERS = [
    ("session_gone", "django_session", "DELETE", "", "session", "OLD.session_key"),
    (
        "device_ended",
        "accounts_devicesession",
        "UPDATE",
        "changed(ended_at) OR changed(session_key) OR changed(user_id)",
        "session",
        "OLD.session_key",
    ),
    ("device_gone", "accounts_devicesession", "DELETE", "", "session", "OLD.session_key"),
    (
        "account_changed",
        "accounts_user",
        "UPDATE",
        "changed(is_active) OR changed(password) OR changed(suspended_at)",
        "user",
        "OLD.id",
    ),
    ("account_gone", "accounts_user", "DELETE", "", "user", "OLD.id"),
    ("membership_changed", "unit_familymembership", "UPDATE", "", "user", "OLD.user_id"),
    ("membership_gone", "unit_familymembership", "DELETE", "", "user", "OLD.user_id"),
    # A family member who becomes staff must pass the staff checks (second factor) on the full path.
    ("became_staff", "unit_staffmembership", "INSERT", "", "user", "NEW.user_id"),
    ("admission_changed", "unit_admission", "UPDATE", "", "admission", "OLD.id"),
    ("admission_gone", "unit_admission", "DELETE", "", "admission", "OLD.id"),
    ("clip_gone", "viewing_clip", "DELETE", "", "clip", "OLD.id"),
    ("clip_segment_gone", "viewing_clip_segments", "DELETE", "", "clip", "OLD.clip_id"),
]


def _condition(condition: str, vendor: str) -> str:
    import re

    same = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return re.sub(r"changed\((\w+)\)", lambda m: f"OLD.{m[1]} {same} NEW.{m[1]}", condition)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table, event, condition, kind, subject in TRIGGERS:
        when = f"WHEN {_condition(condition, vendor)}" if condition else ""
        if vendor == "postgresql":
            schema_editor.execute(
                # Every name below comes from TRIGGERS, none from input.
                f"CREATE OR REPLACE FUNCTION cradle_revoke_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
                f"INSERT INTO viewing_revocation (at, kind, subject) VALUES (clock_timestamp(), '{kind}', "
                f"({subject})::text); RETURN NULL; END $$"
            )
            when = f"WHEN ({_condition(condition, vendor)})" if condition else ""
            schema_editor.execute(
                f"CREATE TRIGGER cradle_revoke_{name} AFTER {event} ON {table} FOR EACH ROW {when} "
                f"EXECUTE FUNCTION cradle_revoke_{name}()"
            )
        elif vendor == "sqlite":
            schema_editor.execute(
                f"CREATE TRIGGER cradle_revoke_{name} AFTER {event} ON {table} FOR EACH ROW {when} BEGIN "  # noqa: S608
                f"INSERT INTO viewing_revocation (at, kind, subject) VALUES "
                f"(strftime('%Y-%m-%d %H:%M:%f', 'now'), '{kind}', CAST({subject} AS TEXT)); END"
            )
        else:
            raise RuntimeError(f"Cradle's revocation triggers are written for SQLite and PostgreSQL, not {vendor}")


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table, *_rest in TRIGGERS:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS cradle_revoke_{name} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS cradle_revoke_{name}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS cradle_revoke_{name}")


class Migration(migrations.Migration):
    dependencies = [
        ("viewing", "0004_lease"),
        ("sessions", "0001_initial"),
        ("accounts", "0003_sealed_contact"),
        ("unit", "0005_lifecycle"),
    ]

    operations = [
        migrations.CreateModel(
            name="Revocation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(db_index=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("session", "Session"),
                            ("user", "User"),
                            ("admission", "Admission"),
                            ("clip", "Clip"),
                        ],
                        max_length=10,
                    ),
                ),
                ("subject", models.CharField(max_length=64)),
            ],
        ),
        migrations.RunPython(create, drop),
    ]
