from django.db import migrations, models
from django.utils import timezone


class Migration(migrations.Migration):
    dependencies = [
        ("viewing", "0003_segment_fingerprint"),
    ]

    operations = [
        migrations.CreateModel(
            name="Lease",
            fields=[
                ("name", models.CharField(max_length=80, primary_key=True, serialize=False)),
                ("holder", models.CharField(blank=True, max_length=80)),
                ("epoch", models.BigIntegerField(default=0)),
                ("expires_at", models.DateTimeField(default=timezone.now)),
                ("next_index", models.BigIntegerField(default=0)),
            ],
        ),
    ]
