"""A unit's name in Chinese, shown to readers of Chinese.

SQLite adds a column with a default by rebuilding the table, which drops the trigger on it that writes to the
revocation log when a unit's second-step rule changes (0006); it is dropped before and created again after.
"""

from importlib import import_module

from django.db import migrations, models

_second_step = import_module("cradle.unit.migrations.0006_family_second_step")


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":  # PostgreSQL adds the column in place and keeps its triggers
        _second_step.drop_triggers(apps, schema_editor)


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        _second_step.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("unit", "0008_camera_setup_and_health"),
    ]

    operations = [
        migrations.RunPython(drop_triggers, create_triggers),
        migrations.AddField(
            model_name="unit",
            name="name_zh_hans",
            field=models.CharField(blank=True, max_length=80, verbose_name="name in Chinese"),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
