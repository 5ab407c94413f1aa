"""The pure metrics module: exact numbers on handmade trades, and properties on generated ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.reports.metrics import (
    ClosedTrade,
    EquityPoint,
    compute_metrics,
    daily_series,
    exposure,
    max_drawdown,
    news_bucket,
    rank_bucket,
    time_bucket,
)
from krx import KST


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 2, day, hour, minute, tzinfo=KST)


def trade(pnl: int, ret: str, *, day: int = 4, entry=(9, 5), exit=(10, 0), **kw) -> ClosedTrade:
    return ClosedTrade(
        exit_time=at(day, *exit),
        pnl=pnl,
        return_pct=Decimal(ret),
        entry_time=at(day, *entry),
        **kw,
    )


HANDMADE = [
    trade(
        10_000,
        "2.0",
        entry=(9, 5),
        exit=(9, 50),
        strategy_tag="leader",
        news_score=80,
        volume_rank=1,
    ),
    trade(
        -4_000,
        "-1.0",
        entry=(9, 10),
        exit=(10, 30),
        strategy_tag="leader",
        news_score=75,
        volume_rank=2,
    ),
    trade(
        6_000,
        "1.5",
        entry=(13, 0),
        exit=(14, 0),
        strategy_tag="cond",
        news_score=None,
        volume_rank=12,
    ),
    trade(
        -8_000,
        "-2.5",
        entry=(14, 30),
        exit=(15, 0),
        strategy_tag="cond",
        news_score=30,
        volume_rank=40,
    ),
]


def test_handmade_exact_numbers() -> None:
    m = compute_metrics(HANDMADE, start_equity=1_000_000, min_pattern_trades=2)
    assert m.total_trades == 4
    assert (m.wins, m.losses) == (2, 2)
    assert m.win_rate == Decimal("0.5000") and m.win_rate_pct == Decimal("50.0000")
    assert m.avg_return_pct == Decimal("0.0000")  # (2 - 1 + 1.5 - 2.5) / 4
    assert m.total_pnl == 4_000
    assert (m.gross_profit, m.gross_loss) == (16_000, 12_000)
    assert m.profit_factor == Decimal("1.3333")
    # equity 1,000,000 → 1,010,000 → 1,006,000 → 1,012,000 → 1,004,000: worst fall 8,000 from 1,012,000
    assert m.max_drawdown_krw == 8_000
    assert m.max_drawdown_pct == Decimal("0.7905")  # 8,000 / 1,012,000
    # in the market 09:05–10:30 (85 min) + 13:00–14:00 (60) + 14:30–15:00 (30) of 09:05–15:00 (355 min)
    assert m.exposure == Decimal("0.4930")
    # two leader trades share a pattern; each cond trade is its own pattern
    labels = {p.label: p for p in m.patterns}
    leader = labels["leader|news:70+|rank:1-3|time:09:00-09:30"]
    assert (leader.trades, leader.wins, leader.total_pnl) == (2, 1, 6_000)
    assert leader.avg_return_pct == Decimal("0.5000")
    assert m.best_pattern is leader and m.worst_pattern is None  # one pattern has 2 trades


def test_best_and_worst_need_the_minimum_sample() -> None:
    assert compute_metrics(HANDMADE, min_pattern_trades=3).best_pattern is None
    m = compute_metrics(HANDMADE, min_pattern_trades=1)
    assert m.best_pattern.label == "cond|news:none|rank:11-30|time:11:00-14:00"
    assert m.worst_pattern.label == "cond|news:0-39|rank:31+|time:14:00+"


def test_no_trades() -> None:
    m = compute_metrics([], start_equity=1_000_000)
    assert (m.total_trades, m.win_rate, m.avg_return_pct, m.total_pnl) == (0, 0, 0, 0)
    assert m.profit_factor is None and m.max_drawdown_krw == 0 and m.exposure == 0


def test_explicit_equity_series_drawdown() -> None:
    curve = [EquityPoint(at(4, 9, i), v) for i, v in enumerate([100, 120, 90, 130, 65])]
    m = compute_metrics(HANDMADE, equity=curve)
    assert m.max_drawdown_krw == 65 and m.max_drawdown_pct == Decimal("50.0000")


@pytest.mark.parametrize(
    ("score", "bucket"),
    [(None, "none"), (0, "0-39"), (39, "0-39"), (40, "40-69"), (69, "40-69"), (70, "70+")],
)
def test_news_buckets(score, bucket) -> None:
    assert news_bucket(score) == bucket


@pytest.mark.parametrize(
    ("rank", "bucket"),
    [(None, "none"), (1, "1-3"), (3, "1-3"), (4, "4-10"), (30, "11-30"), (31, "31+")],
)
def test_rank_buckets(rank, bucket) -> None:
    assert rank_bucket(rank) == bucket


@pytest.mark.parametrize(
    ("moment", "bucket"),
    [
        (None, "none"),
        (at(4, 9, 0), "09:00-09:30"),
        (at(4, 9, 30), "09:30-11:00"),
        (at(4, 11, 0), "11:00-14:00"),
        (at(4, 14, 0), "14:00+"),
        (dt.datetime(2025, 2, 4, 0, 10, tzinfo=dt.UTC), "09:00-09:30"),  # 09:10 KST
    ],
)
def test_time_buckets(moment, bucket) -> None:
    assert time_bucket(moment) == bucket


def test_daily_series() -> None:
    trades = [trade(20_000, "2", day=4), trade(-30_000, "-3", day=5), trade(5_000, "1", day=5)]
    days = [dt.date(2025, 2, 3), dt.date(2025, 2, 4), dt.date(2025, 2, 5)]
    points = daily_series(trades, days, 1_000_000)
    assert [p.pnl for p in points] == [0, 20_000, -25_000]
    assert [p.equity for p in points] == [1_000_000, 1_020_000, 995_000]
    assert points[1].return_pct == Decimal("2.0000")
    assert points[2].return_pct == Decimal("-2.4510")  # -25,000 / 1,020,000
    assert points[2].cumulative_pct == Decimal("-0.5000")
    assert points[2].drawdown_pct == Decimal("2.4510")


def test_exposure_counts_session_time_only() -> None:
    t = trade(1, "0.1", entry=(9, 0), exit=(10, 0))
    assert exposure([t], [(at(4, 9), at(4, 13))]) == Decimal("0.2500")
    # held overnight: 14:00–15:30 on the 4th and 09:00–09:30 on the 5th of two 6.5-hour sessions
    overnight = ClosedTrade(
        exit_time=at(5, 9, 30), pnl=1, return_pct=Decimal(1), entry_time=at(4, 14)
    )
    sessions = [(at(4, 9), at(4, 15, 30)), (at(5, 9), at(5, 15, 30))]
    assert exposure([overnight], sessions) == Decimal("0.1538")  # 120 of 780 minutes


# --- properties ------------------------------------------------------------------------------------------

_moments = st.integers(min_value=0, max_value=6 * 3600).map(
    lambda s: at(4, 9) + dt.timedelta(seconds=s)
)


@st.composite
def closed_trades(draw) -> ClosedTrade:
    a, b = sorted([draw(_moments), draw(_moments)])
    return ClosedTrade(
        exit_time=b,
        entry_time=draw(st.one_of(st.none(), st.just(a))),
        pnl=draw(st.integers(min_value=-5_000_000, max_value=5_000_000)),
        return_pct=draw(st.decimals(min_value=-30, max_value=30, places=4)),
        strategy_tag=draw(st.sampled_from(["", "leader", "cond"])),
        news_score=draw(st.one_of(st.none(), st.integers(0, 100))),
        volume_rank=draw(st.one_of(st.none(), st.integers(1, 100))),
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(closed_trades(), max_size=40),
    st.integers(min_value=0, max_value=1_000_000_000),
    st.integers(min_value=1, max_value=5),
)
def test_properties(trades, start_equity, min_n) -> None:
    m = compute_metrics(trades, start_equity=start_equity, min_pattern_trades=min_n)
    assert 0 <= m.win_rate <= 1
    assert 0 <= m.exposure <= 1
    assert m.max_drawdown_krw >= 0 and m.max_drawdown_pct >= 0
    assert m.total_pnl == sum(t.pnl for t in trades)
    assert m.wins + m.losses <= m.total_trades == len(trades)
    assert sum(p.trades for p in m.patterns) == len(trades)
    assert sum(p.total_pnl for p in m.patterns) == m.total_pnl
    assert m.gross_profit - m.gross_loss == m.total_pnl
    for chosen in (m.best_pattern, m.worst_pattern):
        assert chosen is None or chosen.trades >= min_n
    if m.best_pattern and m.worst_pattern:
        assert m.best_pattern.avg_return_pct >= m.worst_pattern.avg_return_pct
    # a drawdown never exceeds the total losses
    assert m.max_drawdown_krw <= m.gross_loss


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=50))
def test_drawdown_property(curve) -> None:
    krw, pct = max_drawdown(curve)
    assert 0 <= krw <= max(curve) - min(curve)
    assert 0 <= pct <= 100
    if curve == sorted(curve):
        assert krw == 0


def test_sharpe_like_ratio_of_daily_returns() -> None:
    from apps.reports.metrics import period_returns, sharpe_ratio

    returns = period_returns([100, 110, 99, 0, 5])
    assert returns == [Decimal("0.1"), Decimal("-0.1"), Decimal(-1)]  # none from a point at 0
    # Returns 1 %, 3 %: mean 2 %, sample standard deviation √2 %, × √252.
    got = sharpe_ratio([Decimal("0.01"), Decimal("0.03")])
    expected = Decimal("0.02") / Decimal("0.0002").sqrt() * Decimal(252).sqrt()
    assert got == expected.quantize(Decimal("0.0001"))
    assert sharpe_ratio([Decimal("0.01")]) is None  # one return: no dispersion to speak of
    assert sharpe_ratio([Decimal("0.01")] * 5) is None  # no dispersion: no finite value
    assert sharpe_ratio([Decimal("-0.01"), Decimal("-0.03")]) < 0
