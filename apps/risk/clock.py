"""The exchange's time for the pre-trade check, never waited for on the order path.

The check needs the exchange's day (today's P&L is by the exchange's trading day, which is the
simulator's date in paper trading) and time (the no-new-entry window before the close). Against the
real exchange that is the wall clock. Against the simulator it is `/_sim/clock`, an HTTP read: here it
is read once, then extrapolated at the simulator's speed and re-read in the background every
`REFRESH_SECONDS`, so an order never waits for it (nor for a simulator that is down: the last reading,
or the wall clock, stands in).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.utils import timezone

log = logging.getLogger(__name__)

__all__ = ["exchange_time", "forget"]

REFRESH_SECONDS = 2.0

# (monotonic at the read, exchange time then, speed)
_reading: tuple[float, dt.datetime, float] | None = None
_refreshing = threading.Lock()


def forget() -> None:
    global _reading
    _reading = None


def _read() -> None:
    global _reading
    from apps.broker.backends import exchange_clock

    try:
        moment, speed = exchange_clock().reading()
    except Exception:  # the clock is a convenience: keep the last reading
        log.warning("exchange clock unavailable; the risk check keeps its last reading")
        return
    _reading = (time.monotonic(), moment, speed)


def _refresh_in_background() -> None:
    if not _refreshing.acquire(blocking=False):
        return

    def run() -> None:
        try:
            _read()
        finally:
            _refreshing.release()

    threading.Thread(target=run, name="risk-exchange-clock", daemon=True).start()


def ready() -> bool:
    """Whether `exchange_time()` answers without a read of its own (the async order path's test)."""
    return not getattr(settings, "KIWOOM_USE_SIMULATOR", False) or _reading is not None


def exchange_time() -> dt.datetime:
    """The exchange's current time (aware)."""
    if not getattr(settings, "KIWOOM_USE_SIMULATOR", False):
        return timezone.now()
    reading = _reading
    if reading is None:
        _read()
        reading = _reading
        if reading is None:
            return timezone.now()
    elapsed = time.monotonic() - reading[0]
    if elapsed > REFRESH_SECONDS:
        _refresh_in_background()
    return reading[1] + dt.timedelta(seconds=elapsed * reading[2])
