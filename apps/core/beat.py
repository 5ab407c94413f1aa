"""The beat scheduler: django-celery-beat's database scheduler plus a heartbeat of beat itself.

Beat is alive when it ticks, not when a worker runs what it sent, so it records its own heartbeat here.
"""

from __future__ import annotations

import logging
import time

from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)


class HeartbeatDatabaseScheduler(DatabaseScheduler):
    heartbeat_every = 10.0
    _last_heartbeat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_heartbeat >= self.heartbeat_every:
            self._last_heartbeat = now
            try:
                from apps.core.models import Component
                from apps.core.services import status_record

                status_record(Component.BEAT, processed=1)
            except Exception:
                # A heartbeat failure must not stop the clock; health will show beat as stale.
                logger.exception("beat heartbeat failed")
        # Wake at least every few seconds so the heartbeat stays fresh with long task intervals.
        return min(super().tick(*args, **kwargs), 5.0)
