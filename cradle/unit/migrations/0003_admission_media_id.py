import secrets

from django.db import migrations, models

import cradle.unit.models


def fill(apps, schema_editor):
    Admission = apps.get_model("unit", "Admission")
    for admission in Admission.objects.filter(media_id__isnull=True):
        admission.media_id = secrets.token_hex(16)
        admission.save(update_fields=["media_id"])


class Migration(migrations.Migration):
    dependencies = [("unit", "0002_camera_privacy_mode")]

    operations = [
        migrations.AddField(model_name="admission", name="media_id", field=models.CharField(max_length=32, null=True)),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="admission",
            name="media_id",
            field=models.CharField(default=cradle.unit.models._media_id, editable=False, max_length=32, unique=True),
        ),
    ]
