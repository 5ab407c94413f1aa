"""Fixtures of the reports tests: a handmade week of trades, the notifications app's fake servers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from apps.notifications.tests.conftest import eager, fake_http, fake_smtp  # noqa: F401
from apps.reports.tests.factories import IndexBarFactory
from apps.trades.tests.ui_factories import TradeFactory
from krx import KST

MON, TUE, FRI = dt.date(2025, 2, 3), dt.date(2025, 2, 4), dt.date(2025, 2, 7)


def kst(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=KST)


def make_trade(day: dt.date, pnl: int, pct: str, *, entry=(9, 5), exit=(10, 0), **kw):
    return TradeFactory(
        date=day,
        entry_time=kst(day, *entry),
        exit_time=kst(day, *exit),
        pnl=pnl,
        pnl_pct=Decimal(pct),
        **kw,
    )


@pytest.fixture
def week_of_trades(db, settings) -> Iterator[list]:
    """Tuesday: +10,000 / −4,000 (leader) and +6,000 (cond); Friday: −8,000 (cond). Start equity 1,000,000."""
    settings.REPORTS_START_EQUITY_KRW = 1_000_000
    settings.REPORTS_PATTERN_MIN_TRADES = 2
    trades = [
        make_trade(TUE, 10_000, "2.0", news_score=80, volume_rank=1, strategy_tag="leader"),
        make_trade(
            TUE,
            -4_000,
            "-1.0",
            entry=(9, 10),
            exit=(10, 30),
            news_score=75,
            volume_rank=2,
            strategy_tag="leader",
        ),
        make_trade(
            TUE, 6_000, "1.5", entry=(13, 0), exit=(14, 0), volume_rank=12, strategy_tag="cond"
        ),
        make_trade(
            FRI,
            -8_000,
            "-2.5",
            entry=(14, 30),
            exit=(15, 0),
            news_score=30,
            volume_rank=40,
            strategy_tag="cond",
        ),
        # another account's trade: never in the live account's metrics
        make_trade(TUE, 999_999, "50", account_no="9999999999"),
    ]
    for day, close in [(MON, "2500.00"), (TUE, "2525.00"), (FRI, "2550.00")]:
        IndexBarFactory(index_code="KS11", date=day, close=Decimal(close))
    IndexBarFactory(
        index_code="KS11", date=dt.date(2025, 1, 31), close=Decimal("2500.00")
    )  # the close before the week
    yield trades
