"""Signal handlers: a worker reports itself alive as soon as it is ready."""

from __future__ import annotations

import logging

from celery.signals import worker_process_shutdown, worker_ready
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


@worker_ready.connect
def _worker_ready(sender=None, **kwargs) -> None:
    from apps.core.models import Component
    from apps.core.services import status_record

    try:
        status_record(Component.WORKER, message=str(getattr(sender, "hostname", "")))
    except Exception:
        logger.exception("could not record worker start")


@worker_process_shutdown.connect
def _flush_live_pushes(**kwargs) -> None:
    # A pool process leaves through os._exit (no atexit): send the pushes its last task handed over.
    from apps.core.live import live_flush

    live_flush()


def _sync_roles(sender, **kwargs) -> None:
    """After every migrate: give both roles the view permissions of models that apps just added."""
    from django.contrib.auth.models import Group, Permission

    from apps.core.roles import ensure_roles

    if Permission.objects.filter(content_type__app_label="core", codename="trade").exists():
        ensure_roles(Group, Permission)


post_migrate.connect(_sync_roles, dispatch_uid="apps.core.sync_roles")
