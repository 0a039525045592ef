from django.db import migrations, models
from django.db.models import F


def sent_when_made(apps, schema_editor):
    # Updates made before drafts existed were sent at once.
    apps.get_model("updates", "Update").objects.filter(sent_at__isnull=True).update(sent_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("updates", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="update",
            name="sent_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.RunPython(sent_when_made, migrations.RunPython.noop),
    ]
