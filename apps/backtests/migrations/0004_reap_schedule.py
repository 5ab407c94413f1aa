"""The tuning trials' reaper as a django-celery-beat row (editable in the admin). It runs on the `default`
queue, not `reports`: the reports worker may be busy with a run's trials for hours (or be the one that died)."""

import json

from django.db import migrations

NAME = "backtests: reap lost tuning trials"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "backtests.reap_trials",
            "interval": every,
            "args": json.dumps([]),
            "queue": "default",
            "description": "Tuning trials running without a heartbeat for BACKTESTS_TRIAL_STALE_SECONDS "
            "(their worker died) are marked failed and their run is finished; a no-op otherwise.",
            "expire_seconds": 55,
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backtests", "0003_trial_heartbeat"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
