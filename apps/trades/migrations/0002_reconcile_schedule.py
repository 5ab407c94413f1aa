"""The one-minute reconciliation as a django-celery-beat row (editable in the admin). The task does
nothing outside KRX's regular session by the exchange's clock."""

import json

from django.db import migrations


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="trades: reconcile with the broker",
        defaults={
            "task": "trades.reconcile",
            "interval": every,
            "args": json.dumps([]),
            "queue": "orders",
            "description": "ka10075 open orders, ka10076 fills, kt00018 holdings against the books; "
            "only while the KRX regular market is open.",
            "expire_seconds": 59,
        },
    )


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name="trades: reconcile with the broker").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trades", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
