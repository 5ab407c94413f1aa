"""The 30-second condition check and the nightly pruning of old check records, as django-celery-beat rows
(editable in the admin). The check task itself does nothing outside KRX's regular session."""

import json

from django.db import migrations


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="conditions: 30-second check",
        defaults={
            "task": "conditions.check",
            "interval": every,
            "args": json.dumps([]),
            "description": "CNSRREQ for every active condition, diffed with the last snapshot; "
            "only while the KRX regular market is open (09:00-15:30 KST on trading days).",
            "expire_seconds": 29,
        },
    )
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="40", hour="18", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone="Asia/Seoul",
    )
    PeriodicTask.objects.get_or_create(
        name="conditions: prune old check records",
        defaults={
            "task": "conditions.prune_runs",
            "crontab": nightly,
            "args": json.dumps([]),
            "description": "Deletes check records older than CONDITIONS_RUN_RETENTION_DAYS; "
            "entry/exit events are kept.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("conditions", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
