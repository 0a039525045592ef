"""An admission may come from the hospital's admission feed, with no nurse as its author (admitted_by empty).

SQLite cannot change a column's nullability in place: Django rebuilds the table, which drops the revocation triggers
on it (cradle/viewing/migrations/0005_revocation.py) and trips over the unit trigger that reads it (0006). They are
dropped before and created again after, as they were.
"""

from importlib import import_module

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_revocation = import_module("cradle.viewing.migrations.0005_revocation")
_second_step = import_module("cradle.unit.migrations.0006_family_second_step")
_ADMISSION_TRIGGERS = [t for t in _revocation.TRIGGERS if t[1] == "unit_admission"]


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL alters the column in place and keeps its triggers
    _second_step.drop_triggers(apps, schema_editor)
    for name, *_rest in _ADMISSION_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS cradle_revoke_{name}")


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    _second_step.create_triggers(apps, schema_editor)
    for name, table, event, condition, kind, subject in _ADMISSION_TRIGGERS:
        when = f"WHEN {_revocation._condition(condition, 'sqlite')}" if condition else ""
        schema_editor.execute(
            # Every name below comes from the revocation migration's TRIGGERS, none from input.
            f"CREATE TRIGGER cradle_revoke_{name} AFTER {event} ON {table} FOR EACH ROW {when} BEGIN "  # noqa: S608
            f"INSERT INTO viewing_revocation (at, kind, subject) VALUES "
            f"(strftime('%Y-%m-%d %H:%M:%f', 'now'), '{kind}', CAST({subject} AS TEXT)); END"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("unit", "0006_family_second_step"),
        ("viewing", "0005_revocation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_triggers, create_triggers),
        migrations.AlterField(
            model_name="admission",
            name="admitted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
