"""Seeds what every installation needs, idempotently: the viewer/trader roles, the runtime switches and the
heartbeat schedule (as a django-celery-beat row, so it shows and can be edited in the admin)."""

import json

from django.contrib.auth.management import create_permissions
from django.db import migrations

from apps.core.roles import ensure_roles

FLAGS = [
    ("trading-enabled", False, "자동매매 주문 허용 (끄면 신규 주문을 내지 않음)"),
]


def seed(apps, schema_editor):
    # Permissions are normally created after migrate; make sure ours exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    ensure_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), ["core"])

    RuntimeFlag = apps.get_model("core", "RuntimeFlag")
    for key, enabled, description in FLAGS:
        RuntimeFlag.objects.get_or_create(
            key=key, defaults={"enabled": enabled, "description": description}
        )

    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=10, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="system heartbeat",
        defaults={
            "task": "core.heartbeat",
            "interval": every,
            "args": json.dumps([]),
            "description": "Worker/broker heartbeat and the live status strip (every 10 s).",
            "expire_seconds": 9,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
