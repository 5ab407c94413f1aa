"""The sweep that sends held digests and retries whose time has come, as a django-celery-beat row (editable in
the admin)."""

import json

from django.db import migrations


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=15, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="notifications: send due deliveries",
        defaults={
            "task": "notifications.dispatch_due",
            "interval": every,
            "args": json.dumps([]),
            "description": "Held digests after quiet hours, throttled digests, retries (every 15 s).",
            "expire_seconds": 14,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
