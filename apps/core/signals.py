"""Signal handlers: a worker reports itself alive as soon as it is ready."""

from __future__ import annotations

import logging

from celery.signals import worker_ready

logger = logging.getLogger(__name__)


@worker_ready.connect
def _worker_ready(sender=None, **kwargs) -> None:
    from apps.core.models import Component
    from apps.core.services import status_record

    try:
        status_record(Component.WORKER, message=str(getattr(sender, "hostname", "")))
    except Exception:
        logger.exception("could not record worker start")
