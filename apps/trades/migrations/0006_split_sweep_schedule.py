"""The split orders' sweep as a django-celery-beat row (editable in the admin): every open split parent
gets a step, so a schedule whose worker died resumes within seconds."""

import json

from django.db import migrations

NAME = "trades: split orders sweep"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "trades.split_sweep",
            "interval": every,
            "args": json.dumps([]),
            "queue": "orders",
            "description": "One step of every open split order (children over time or by book "
            "depth, chase, cancel); a no-op when none is open.",
            "expire_seconds": 4,
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trades", "0005_split_orders"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
