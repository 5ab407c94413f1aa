"""The matching + ledger core run in-process with a historical clock: no server, no socket,
no simulated tape. Money is checked to the won, with the 2025 and the 2026 sell tax."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.broker.simulator.clock import ManualClock
from apps.broker.simulator.core import PaperCore
from apps.broker.simulator.dto import Instrument, OrderType, Side, SimRejection
from krx import KST, Market

ACCOUNT = "5000000010"
CODE = "005930"
START = 10_000_000


def make(day: dt.date) -> tuple[PaperCore, ManualClock]:
    clock = ManualClock(dt.datetime.combine(day, dt.time(9, 0), tzinfo=KST))
    inst = Instrument(CODE, "삼성전자", Market.KOSPI, 70_000, 5_969_782_550, 10_000_000, True)
    core = PaperCore(clock, {CODE: inst}, start_cash=START)
    core.open_account(ACCOUNT)
    return core, clock


def test_buy_and_sell_on_prints_book_cash_fees_and_2025_tax_to_the_won() -> None:
    core, clock = make(dt.date(2025, 6, 2))
    buy = core.place(ACCOUNT, Side.BUY, CODE, 10, 70_000)
    # Held: amount + commission rounded up (700,000 × 0.015 % = 105).
    assert core.ledger.cash(ACCOUNT).held_for_orders == 700_105
    assert core.on_print(CODE, 70_100, 1_000) == []  # above the limit: no fill
    clock.tick(dt.timedelta(minutes=5))
    [f1, f2] = core.on_print(CODE, 70_000, 4) + core.on_print(CODE, 69_900, 100)
    assert (f1.qty, f1.price, f2.qty, f2.price) == (4, 70_000, 6, 70_000)  # fills at the limit
    assert f1.time == clock.now()
    # Commission per order, cumulative and rounded down: 280,000 → 42; 700,000 → 105.
    assert (f1.commission, f2.commission, buy.commission) == (42, 63, 105)
    cash = core.ledger.cash(ACCOUNT)
    assert cash.deposit == START - 700_000 - 105
    assert cash.held_for_orders == 0

    sell = core.place(ACCOUNT, Side.SELL, CODE, 10, 71_000)
    assert core.on_print(CODE, 70_900, 50) == []
    [s] = core.on_print(CODE, 71_200, 50)
    assert (s.qty, s.price) == (10, 71_000)
    # 710,000: commission 106 (106.5 down), 2025 KOSPI tax 0.15 % = 1,065.
    assert (s.commission, s.tax) == (106, 1_065)
    assert (sell.commission, sell.tax) == (106, 1_065)
    cash = core.ledger.cash(ACCOUNT)
    assert cash.deposit == START - 700_105 + 710_000 - 106 - 1_065
    assert (cash.commission_today, cash.tax_today) == (211, 1_065)
    summary = core.ledger.summary(ACCOUNT, [])
    assert summary.realized_pnl == 710_000 - 700_000 - 105 - 106 - 1_065
    assert (
        core.ledger.holdings(
            ACCOUNT, core.instruments, lambda c: (71_000, 70_000), clock.now().date()
        )
        == []
    )


def test_a_2026_sell_pays_the_restored_tax_and_bars_match_like_prints() -> None:
    core, clock = make(dt.date(2026, 1, 5))
    core.place(ACCOUNT, Side.BUY, CODE, 7, 69_500)
    # A bar whose low reaches the limit fills it at the limit.
    [b] = core.on_bar(CODE, 70_000, 70_500, 69_400, 70_200, 400)
    assert (b.qty, b.price, b.commission) == (7, 69_500, 72)  # 486,500 × 0.015 % = 72.975
    [h] = core.ledger.holdings(
        ACCOUNT, core.instruments, lambda c: (70_200, 70_000), clock.now().date()
    )
    assert (h.qty, h.avg_price, h.cost, h.eval_amount) == (7, 69_500, 486_500, 491_400)
    # Estimated sell fees use the 2026 rate: 491,400 × 0.20 % = 982.8 → 982.
    assert h.est_sell_tax == 982

    clock.set(dt.datetime(2026, 1, 6, 10, 0, tzinfo=KST))
    core.end_of_day()
    core.place(ACCOUNT, Side.SELL, CODE, 7, 0, OrderType.MARKET, hold_price=91_000)
    [s] = core.on_print(CODE, 70_300, 100)
    # A resting market sell fills at the print less one tick of slippage.
    assert s.price == 70_200
    # 491,400: commission 73 (73.71 down), 2026 KOSPI tax 0.20 % = 982 (982.8 down).
    assert (s.commission, s.tax) == (73, 982)
    cash = core.ledger.cash(ACCOUNT)
    assert cash.deposit == START - 486_500 - 72 + 491_400 - 73 - 982
    assert cash.tax_today == 982


def test_the_core_refuses_what_the_account_cannot_carry() -> None:
    core, _ = make(dt.date(2025, 6, 2))
    with pytest.raises(SimRejection, match="855056"):
        core.place(ACCOUNT, Side.BUY, CODE, 1_000, 70_000)
    with pytest.raises(SimRejection, match="800033"):
        core.place(ACCOUNT, Side.SELL, CODE, 1, 70_000)
    assert core.ledger.cash(ACCOUNT).held_for_orders == 0
    assert core.ledger.orders(ACCOUNT, None) == []


def test_participation_shares_a_print_in_price_time_priority() -> None:
    core, _ = make(dt.date(2025, 6, 2))
    core.participation = Decimal("0.5")
    first = core.place(ACCOUNT, Side.BUY, CODE, 30, 70_000)
    better = core.place(ACCOUNT, Side.BUY, CODE, 30, 70_100)
    fills = core.on_print(CODE, 70_000, 80)  # 40 shares for the paper orders
    assert [(f.order_no, f.qty) for f in fills] == [(better.order_no, 30), (first.order_no, 10)]
