"""The domain events of the conditions app: "a stock entered a condition" and "a stock left it".

Consumers (the strategy engine of a later issue, anything else) connect a receiver::

    from apps.conditions.events import ConditionChange, condition_entered

    def on_entry(sender, change: ConditionChange, **kwargs):
        ...

    condition_entered.connect(on_entry)

Guarantees:

- sent once per recorded `ConditionEvent`, after the transaction that recorded it commits (never for a
  change that was rolled back), in the order the changes were recorded;
- one entry is one event whichever path saw it first (the realtime 02 frame or the 30-second poll); the
  `source` says which;
- no event for the baseline snapshot (the first check of a newly activated condition records its
  members silently);
- receivers run in the process that recorded the change (the realtime process for realtime entries, a
  Celery worker for the poll and "search now") and must be quick: queue real work as a Celery task. A
  receiver that raises is logged and does not affect other receivers or the recording;
- `ConditionEvent` rows are the durable log: a consumer that was not running reads the events with an id
  greater than the last it handled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.dispatch import Signal

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConditionChange:
    event_id: int
    condition_id: int
    condition_seq: str
    condition_name: str
    code: str
    name: str
    entered: bool
    at: datetime  # exchange time (aware)
    price: int | None
    change: int | None  # 전일대비, KRW
    change_rate: Decimal | None
    source: str  # "poll" | "realtime" | "manual"


condition_entered = Signal()
condition_exited = Signal()


def send_changes(changes: list[ConditionChange]) -> None:
    """Send one signal per change (`change=` keyword); a failing receiver is logged, not raised."""
    for change in changes:
        signal = condition_entered if change.entered else condition_exited
        for receiver, result in signal.send_robust(sender=ConditionChange, change=change):
            if isinstance(result, Exception):
                log.error(
                    "condition event receiver %r failed for %s %s: %r",
                    receiver,
                    change.condition_seq,
                    change.code,
                    result,
                )
