"""The per-account lock against PostgreSQL with real threads.

- Eight intents race for three position slots: exactly three pass (and, with the lock taken away, the
  same race lets more through: the lock is what holds the limit).
- A fill breaches the daily loss while other threads keep sending entries: no entry is saved after
  the breaching fill (every saved buy is older than the HALTED journal row, written in the fill's
  transaction), and the entries that came after are refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection

from apps.risk.models import RiskStateEvent
from apps.risk.services import pretrade
from apps.risk.services.config import config_update
from apps.trades.models import Order
from apps.trades.services import OrderIntent, OrderRefused, fill_apply, order_create

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "5000000010"
CODES = ["005930", "000660", "035420", "051910", "068270", "105560", "207940", "373220"]


def buy(code: str, qty: int = 1, price: int = 1_000, **kw) -> OrderIntent:
    return OrderIntent(code=code, side="buy", quantity=qty, price=price, account_no=ACCOUNT, **kw)


def in_threads(fns: list[Callable[[], None]]) -> None:
    def run(fn: Callable[[], None]) -> None:
        try:
            fn()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def slow_snapshot(monkeypatch, seconds: float = 0.05) -> None:
    """Widen the race: the snapshot is read, then the check waits before the row is written."""
    real = pretrade.snapshot_build

    def slow(*args, **kwargs):
        snap = real(*args, **kwargs)
        time.sleep(seconds)
        return snap

    monkeypatch.setattr(pretrade, "snapshot_build", slow)


def race_for_slots() -> tuple[int, list[str]]:
    from apps.risk.snapshot import figures_of

    figures_of(ACCOUNT)  # the day's opening row exists before the race (its creation locks too)
    barrier = threading.Barrier(len(CODES))
    refused: list[str] = []

    def one(code: str) -> Callable[[], None]:
        def go() -> None:
            barrier.wait()
            try:
                order_create(buy(code))
            except OrderRefused as exc:
                refused.append(exc.code)

        return go

    in_threads([one(c) for c in CODES])
    return Order.objects.filter(side="buy").count(), refused


def test_only_the_intents_that_fit_pass(monkeypatch) -> None:
    config_update({"max_positions": 3, "max_entries_per_minute": None}, user=None, reason="t")
    slow_snapshot(monkeypatch)
    saved, refused = race_for_slots()
    assert saved == 3
    assert refused == ["max_positions"] * 5


def test_without_the_lock_the_same_race_breaks_the_limit(monkeypatch) -> None:
    config_update({"max_positions": 3, "max_entries_per_minute": None}, user=None, reason="t")
    monkeypatch.setattr(pretrade, "account_lock", lambda account_no: None)
    # Every intent reads its snapshot before any writes its row (a barrier after the read: with
    # the lock this would be impossible, so it is only here).
    real, read = pretrade.snapshot_build, threading.Barrier(len(CODES))

    def all_read_first(*args, **kwargs):
        snap = real(*args, **kwargs)
        read.wait(30)
        return snap

    monkeypatch.setattr(pretrade, "snapshot_build", all_read_first)
    saved, refused = race_for_slots()
    assert saved == len(CODES), refused


def test_no_entry_passes_after_the_breaching_fill(monkeypatch) -> None:
    config_update(
        {
            "max_daily_loss_krw": 1_000_000,
            "max_daily_loss_pct": None,
            "max_entries_per_minute": None,
        },
        user=None,
        reason="t",
    )
    held, _ = order_create(buy("005930", 1_000, 10_000))
    fill_apply(held.pk, cum_quantity=1_000, cum_amount=10_000_000)
    exit_order, _ = order_create(
        OrderIntent(code="005930", side="sell", quantity=1_000, price=8_800, account_no=ACCOUNT)
    )
    slow_snapshot(monkeypatch, 0.005)
    stop = threading.Event()
    outcomes: list[tuple[float, str]] = []

    def entries() -> None:
        while not stop.is_set():
            try:
                order_create(buy("000660", cause="signal" if len(outcomes) % 2 else "user"))
                outcomes.append((time.monotonic(), "saved"))
            except OrderRefused as exc:
                outcomes.append((time.monotonic(), exc.code))

    def breach() -> None:
        time.sleep(0.3)
        fill_apply(exit_order.pk, cum_quantity=1_000, cum_amount=8_800_000)  # -1.2M and fees
        time.sleep(0.5)
        stop.set()

    from apps.core.models import RuntimeFlag

    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
    in_threads([entries, entries, entries, breach])

    halt = RiskStateEvent.objects.get(to_state="halted")
    assert halt.cause == "daily_loss"
    buys = Order.objects.filter(side="buy", code="000660")
    assert buys.exists(), "no entry passed before the fill: the race did not run"
    latest = max(buys.values_list("created_at", flat=True))
    assert latest < halt.created_at
    after = [code for _, code in outcomes[-10:]]
    assert after and all(code == "halted" for code in after), after
