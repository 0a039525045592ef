"""Families need a second sign-in step to watch (cradle.accounts.second_step).

Units that exist now give their families a grace period; units made later give none. Two triggers write to the
revocation log (viewing migration 0005), so that the fast path drops a grant as soon as the rule takes the picture
away: a second factor removed (the person may have none left), and a unit's rule or grace period changed.
"""

from datetime import timedelta

from django.db import migrations, models
from django.utils import timezone

GRACE_DAYS = 14

# (name, table, event, condition or "", the revocation rows: "kind, subject [FROM ...]" after SELECT at,). A
# condition compares OLD and NEW; `changed(x)` is a null-safe "column x changed" in either database.
TRIGGERS = [
    ("second_factor_gone", "mfa_authenticator", "DELETE", "", "'user', CAST(OLD.user_id AS TEXT)"),
    (
        "second_factor_moved",
        "mfa_authenticator",
        "UPDATE",
        "changed(user_id) OR changed(type)",
        "'user', CAST(OLD.user_id AS TEXT)",
    ),
    (
        "unit_second_step",
        "unit_unit",
        "UPDATE",
        "changed(family_second_step) OR changed(second_step_grace_until)",
        "'admission', CAST(id AS TEXT) FROM unit_admission WHERE unit_id = NEW.id",
    ),
]


def _condition(condition: str, vendor: str) -> str:
    import re

    same = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return re.sub(r"changed\((\w+)\)", lambda m: f"OLD.{m[1]} {same} NEW.{m[1]}", condition)


def _rows(rows: str, now: str) -> str:
    # Every name comes from TRIGGERS, none from input.
    return f"INSERT INTO viewing_revocation (at, kind, subject) SELECT {now}, {rows}"


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table, event, condition, select in TRIGGERS:
        if vendor == "postgresql":
            rows = _rows(select, "clock_timestamp()")
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION cradle_revoke_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"{rows}; RETURN NULL; END $$"
            )
            when = f"WHEN ({_condition(condition, vendor)})" if condition else ""
            schema_editor.execute(
                f"CREATE TRIGGER cradle_revoke_{name} AFTER {event} ON {table} FOR EACH ROW {when} "
                f"EXECUTE FUNCTION cradle_revoke_{name}()"
            )
        elif vendor == "sqlite":
            rows = _rows(select, "strftime('%Y-%m-%d %H:%M:%f', 'now')")
            when = f"WHEN {_condition(condition, vendor)}" if condition else ""
            schema_editor.execute(
                f"CREATE TRIGGER cradle_revoke_{name} AFTER {event} ON {table} FOR EACH ROW {when} BEGIN {rows}; END"
            )
        else:
            raise RuntimeError(f"Cradle's revocation triggers are written for SQLite and PostgreSQL, not {vendor}")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, table, *_rest in TRIGGERS:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS cradle_revoke_{name} ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS cradle_revoke_{name}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS cradle_revoke_{name}")


def grace_for_existing_units(apps, schema_editor):
    Unit = apps.get_model("unit", "Unit")
    Unit.objects.update(second_step_grace_until=timezone.now() + timedelta(days=GRACE_DAYS))


class Migration(migrations.Migration):
    dependencies = [
        ("unit", "0005_lifecycle"),
        ("viewing", "0005_revocation"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [
        migrations.AddField(
            model_name="unit",
            name="family_second_step",
            field=models.BooleanField(
                default=True,
                help_text="A passkey or an authenticator app, besides the password. Family members without one see "
                "how to add it instead of the picture.",
                verbose_name="families need a second sign-in step to watch",
            ),
        ),
        migrations.AddField(
            model_name="unit",
            name="second_step_grace_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(grace_for_existing_units, migrations.RunPython.noop),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
