"""A signal's outcome: what became of it (`signal_outcome`), the signals a restart interrupted
(`signals_interrupted_settle`), the `trade_signal` push (`signal_payload`) and the idempotency key of
its order (`idempotency_key`). The path itself: `apps.strategy.execution`."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from django.db import transaction

from apps.core.live import publish_after_commit
from apps.trades.models import Order

from .models import Signal as SignalRow
from .models import SignalStatus

log = logging.getLogger(__name__)

IDEMPOTENCY_MAX = 100  # Order.idempotency_key's length

__all__ = [
    "INTERRUPTED",
    "idempotency_key",
    "signal_outcome",
    "signal_payload",
    "signals_interrupted_settle",
]


def idempotency_key(key: str) -> str:
    """`signal:<key>`, or `signal:<sha1 of key>` for a key too long for the order's column."""
    value = f"signal:{key}"
    if len(value) <= IDEMPOTENCY_MAX:
        return value
    return "signal:" + hashlib.sha1(key.encode()).hexdigest()  # noqa: S324 (a name, not a secret)


def signal_outcome(
    row_id: int,
    *,
    order_id: Any = None,
    refused: list[dict[str, str]] | None = None,
    error: str = "",
    idem_key: str = "",
) -> dict[str, Any]:
    """Record what became of the signal; returns the `trade_signal` payload (pushed after commit)."""
    with transaction.atomic():
        row = SignalRow.objects.select_for_update().get(pk=row_id)
        if order_id is None and idem_key and not refused:
            order_id = (
                Order.objects.filter(idempotency_key=idem_key).values_list("pk", flat=True).first()
            )
        if order_id is not None:
            row.order_id = order_id
            row.status = SignalStatus.ACCEPTED if not error else SignalStatus.FAILED
        elif refused is not None:
            row.status = SignalStatus.REJECTED
        else:
            row.status = SignalStatus.FAILED
        if refused is not None:
            row.risk_reasons = refused
        elif error:
            row.risk_reasons = [{"code": "error", "message": error[:300]}]
        row.save(update_fields=["status", "order", "risk_reasons"])
        payload = signal_payload(row)
        publish_after_commit("trade_signal", payload)
    return payload


INTERRUPTED = "the process stopped before the signal's order was made (restart); not sent again"


def signals_interrupted_settle(
    day: dt.date, in_flight: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """At a realtime process's start, before it executes anything: today's signals still `new` were
    interrupted by the end of the previous process, between their row and their outcome. Each gets
    an outcome now, so none stays half-made: `accepted` with its order when the order's row was
    made (found by its idempotency key; reconciliation settles the order itself), else `failed`
    (its key stays fired: never an entry sent late). `in_flight`: keys this process is executing now
    (left alone). Returns their `trade_signal` payloads."""
    settled = []
    rows = SignalRow.objects.filter(day=day, status=SignalStatus.NEW).exclude(key__in=in_flight)
    for row_id, key in rows.values_list("pk", "key"):
        order_id = (
            Order.objects.filter(idempotency_key=idempotency_key(key))
            .values_list("pk", flat=True)
            .first()
        )
        if order_id is not None:
            settled.append(signal_outcome(row_id, order_id=order_id))
        else:
            settled.append(signal_outcome(row_id, error=INTERRUPTED))
        log.warning(
            "strategy: signal %s was interrupted by a restart: %s", key, settled[-1]["status"]
        )
    return settled


def signal_payload(row: SignalRow) -> dict[str, Any]:
    """`trade_signal` (seed 004 §8.3: `{code, action, reason}`), with the signal's id, strategy, name,
    exchange time, price, status, order and risk reasons for the pages."""
    return {
        "code": row.code,
        "action": row.side,
        "reason": row.reason,
        "id": row.pk,
        "strategy": row.strategy,
        "name": row.name,
        "at": row.at.isoformat(),
        "price": row.price,
        "status": row.status,
        "order_id": str(row.order_id) if row.order_id else None,
        "risk_reasons": row.risk_reasons,
    }
