"""The Celery application: JSON only, time limits, django-celery-beat's database scheduler."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings")

app = Celery("stockagent")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
