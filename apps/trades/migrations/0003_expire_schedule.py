"""Day orders end with the session: after the close, what is still live becomes `expired`."""

import json

from django.db import migrations

NAME = "trades: expire day orders after the close"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    after_close, _ = CrontabSchedule.objects.get_or_create(
        minute="45", hour="15", day_of_week="1-5", day_of_month="*", month_of_year="*",
        timezone="Asia/Seoul",
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "trades.expire_day_orders",
            "crontab": after_close,
            "args": json.dumps([]),
            "queue": "orders",
            "description": "Reconcile, then orders still live after the close are expired.",
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("trades", "0002_reconcile_schedule")]

    operations = [migrations.RunPython(seed, unseed)]
