"""Publishing to the live dashboard: the one place that talks to the channel layer.

Domain services call :func:`publish_after_commit`; the event goes out only if their transaction commits, so the
page never shows something the database then rolled back. The domain never imports Channels itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

LIVE_GROUP = "live"


def _jsonable(data: Any) -> Any:
    # Decimals, datetimes and dates become strings the browser can read; ints stay ints (KRW).
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def publish_now(event_type: str, data: Any, group: str = LIVE_GROUP) -> None:
    """Send ``{type, data}`` to every socket in ``group``. Failures are logged, never raised:
    a dashboard push must not break the business action that caused it."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "live.event", "event": {"type": event_type, "data": _jsonable(data)}}
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("live push failed for %s", event_type)


async def apublish_now(event_type: str, data: Any, group: str = LIVE_GROUP) -> None:
    """`publish_now` for code running on an event loop (the realtime hub): awaits the channel layer
    instead of blocking the loop. Failures are logged, never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "live.event", "event": {"type": event_type, "data": _jsonable(data)}}
    try:
        await layer.group_send(group, message)
    except Exception:
        logger.exception("live push failed for %s", event_type)


def publish_after_commit(event_type: str, data: Any, group: str = LIVE_GROUP) -> None:
    """Queue a live push for when the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: publish_now(event_type, data, group))
