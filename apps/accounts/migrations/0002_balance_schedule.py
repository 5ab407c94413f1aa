"""The balance sync every minute, as a django-celery-beat row (editable in the admin). The task does nothing
outside KRX's regular session."""

import json

from django.db import migrations


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="accounts: balance sync",
        defaults={
            "task": "accounts.sync_balance",
            "interval": every,
            "kwargs": json.dumps({"source": "schedule"}),
            "description": "kt00001 + kt00018 for the active broker account, stored as a balance "
            "snapshot; only while the KRX regular market is open (09:00-15:30 KST on trading days).",
            "expire_seconds": 59,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
