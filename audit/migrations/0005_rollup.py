"""The dashboard's rollups: records per quarter hour by what its panels group on, and how far they reach.

Filled by ``audit.services.rollups_fold`` (the sealing task, and each dashboard view for a bounded tail).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_logentry_search_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="RollupState",
            fields=[
                ("id", models.SmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("folded_to", models.BigIntegerField(default=0, verbose_name="folded up to")),
                ("raw_before", models.DateTimeField(blank=True, null=True, verbose_name="read from the log before")),
            ],
            options={
                "verbose_name": "rollup state",
                "verbose_name_plural": "rollup states",
            },
        ),
        migrations.CreateModel(
            name="Rollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("bucket", models.DateTimeField(verbose_name="quarter hour")),
                ("event_type", models.CharField(max_length=64, verbose_name="event type")),
                ("reason_code", models.CharField(blank=True, max_length=64, verbose_name="reason code")),
                ("stage", models.CharField(blank=True, max_length=64, verbose_name="stage")),
                ("risk_codes", models.CharField(blank=True, max_length=512, verbose_name="risk codes")),
                ("latency_bucket", models.SmallIntegerField(default=-1, verbose_name="latency class")),
                ("records", models.BigIntegerField(default=0, verbose_name="records")),
                ("jobs", models.BigIntegerField(default=0, verbose_name="jobs")),
            ],
            options={
                "verbose_name": "log rollup",
                "verbose_name_plural": "log rollups",
                "indexes": [models.Index(fields=["event_type", "bucket"], name="audit_rollup_event_bucket")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("bucket", "event_type", "reason_code", "stage", "risk_codes", "latency_bucket"),
                        name="audit_rollup_key",
                    )
                ],
            },
        ),
    ]
