"""Reads of stored signals for the pages: the overview's signal feed, a signal's page, and which signal
caused a trade (entry: the accepted buy signal of the code before the entry; exit: the one whose order
closed it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import krx

from .models import Signal, SignalStatus

FEED_SIZE = 20

__all__ = ["recent_signals", "signal_get", "signals_of_trades"]


def recent_signals(limit: int = FEED_SIZE) -> list[Signal]:
    """The newest signals (exchange time), for the overview's feed."""
    return list(Signal.objects.order_by("-at", "-id")[:limit])


def signal_get(pk: int) -> Signal | None:
    return Signal.objects.select_related("order").filter(pk=pk).first()


def signals_of_trades(trades: Iterable[Any]) -> dict[Any, tuple[Signal | None, Signal | None]]:
    """trade pk → (entry signal, exit signal), in two queries for a page of trades. The entry signal is
    the latest accepted buy signal of the trade's account and code at or before its entry time on the
    entry's trading day; the exit signal is the signal whose order is the trade's exit order."""
    trades = list(trades)
    if not trades:
        return {}
    codes = {t.code for t in trades}
    days = {t.entry_time.astimezone(krx.KST).date() for t in trades if t.entry_time}
    entries = list(
        Signal.objects.filter(
            code__in=codes,
            day__in=days,
            side="buy",
            status=SignalStatus.ACCEPTED,
            order__isnull=False,
        ).order_by("at", "id")
    )
    exit_orders = [t.exit_order_id for t in trades if t.exit_order_id]
    exits = {s.order_id: s for s in Signal.objects.filter(order_id__in=exit_orders, side="sell")}
    out: dict[Any, tuple[Signal | None, Signal | None]] = {}
    for trade in trades:
        entry = None
        if trade.entry_time:
            day = trade.entry_time.astimezone(krx.KST).date()
            for s in entries:
                if (
                    s.code == trade.code
                    and s.day == day
                    and s.at <= trade.entry_time
                    and s.account_no in ("", trade.account_no)
                ):
                    entry = s
        out[trade.pk] = (entry, exits.get(trade.exit_order_id))
    return out
