"""Celery tasks of the strategy app (thin: read the clock, call a service). Routed to the `market` queue
by their `strategy.` prefix."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task


# ------------------------------------------------------------------------------ opening scanner
def _enqueue_tick(slot: dt.datetime, countdown: float) -> None:
    scan_tick.apply_async(kwargs={"slot": slot.isoformat()}, countdown=countdown)


@shared_task(name="strategy.scan_tick", ignore_result=True, time_limit=120, soft_time_limit=100)
def scan_tick(slot: str | None = None) -> dict[str, Any]:
    """The beat entry's tick (every few wall seconds) and the queued tick of the next slot: scans the
    exchange minute due now, once across every worker (apps.strategy.scanner.scan_tick)."""
    from apps.broker.backends import exchange_clock

    from .scanner import scan_tick as tick

    reading = exchange_clock().known_reading()
    if reading is None:  # the simulator does not answer (yet): never scan on the wall's time
        return {"skipped": "exchange clock unavailable"}
    now, speed = reading
    target = dt.datetime.fromisoformat(slot) if slot else None
    return tick(now, speed, enqueue=_enqueue_tick, target=target).as_dict()
