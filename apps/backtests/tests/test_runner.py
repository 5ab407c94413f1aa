"""The runner on handmade bars: the built-in strategies, no look-ahead, P&L from the fills to the won."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from decimal import Decimal

import pytest

from apps.backtests.runner import DayInput, Instrument, RunResult, RunSpec, run
from apps.strategy.engine.events import BarEvent, ConditionEvent, NewsEvent
from krx import calendar

from .bars import DAY, at, path_bars, wave

A, B = "005930", "000660"
INSTRUMENTS = [Instrument(A, "삼성전자", "KOSPI"), Instrument(B, "SK하이닉스", "KOSPI")]


def ma_run(bars: list[BarEvent], **kw: object) -> RunResult:
    spec = RunSpec("ma_cross", {"fast": 5, "slow": 20}, **kw)  # type: ignore[arg-type]
    return run(spec, INSTRUMENTS[:1], [DayInput(DAY, bars, {A: 70_000})])


def decisions(result: RunResult, until: dt.datetime) -> list[tuple[object, ...]]:
    orders = [
        (o.seq, o.code, o.side, o.quantity, o.price, o.created_at, o.status != "rejected")
        for o in result.books.orders
        if o.created_at <= until
    ]
    fills = [
        (f.order_seq, f.quantity, f.price, f.commission, f.tax, f.executed_at)
        for f in result.books.fills
        if f.executed_at <= until
    ]
    return orders + fills


def recomputed_pnl(result: RunResult) -> int:
    """Sells net of commission and tax minus buys with commission, over the closed round trips."""
    by_seq = {o.seq: o for o in result.books.orders}
    total = 0
    for f in result.books.fills:
        side = by_seq[f.order_seq].side
        total += f.amount - f.commission - f.tax if side == "sell" else -(f.amount + f.commission)
    return total


def test_ma_cross_trades_and_pnl_equals_the_fills_to_the_won() -> None:
    result = ma_run(path_bars(A, wave()))
    trades = result.books.trades
    assert len(trades) >= 4
    assert not result.books.held()  # flat at the close: every buy has its sell
    pnl = sum(t.pnl for t in trades)
    assert pnl == recomputed_pnl(result)
    assert pnl == result.broker_realized  # the broker's ledger agrees to the won
    assert result.final_cash == 100_000_000 + pnl
    assert all(t.tax > 0 for t in trades)  # the sell tax of the trade date
    assert result.equity[-1][1] == 100_000_000 + pnl


def test_every_fill_lies_inside_a_later_bar_than_its_decision() -> None:
    bars = path_bars(A, wave())
    result = ma_run(bars)
    ranges = {b.end: (b.low, b.high) for b in bars}
    by_seq = {o.seq: o for o in result.books.orders}
    for f in result.books.fills:
        low, high = ranges[f.executed_at]
        assert low <= f.price <= high
        assert f.executed_at > by_seq[f.order_seq].created_at


@pytest.mark.parametrize("cut", [30, 120, 250])
def test_no_look_ahead_ma_cross(cut: int) -> None:
    bars = path_bars(A, wave())
    t = bars[cut].end
    rng = random.Random(cut)
    changed = bars[: cut + 1] + [
        dataclasses.replace(
            b,
            open=b.open + 100 * rng.randint(-30, 30),
            close=b.open + 100 * rng.randint(-30, 30),
            high=b.open + 3_100 + 100 * rng.randint(0, 30),
            low=b.open - 3_100 - 100 * rng.randint(0, 30),
            volume=rng.randint(1, 50_000),
        )
        for b in bars[cut + 1 :]
    ]
    first, second = ma_run(bars), ma_run(changed)
    assert decisions(first, t) == decisions(second, t)
    assert decisions(first, bars[-1].end) != decisions(second, bars[-1].end)


def breakout_day(news: list[NewsEvent], day: dt.date = DAY) -> DayInput:
    """A leads by trading value and breaks out of its opening range at 09:10, holding above VWAP
    until 10:30, then falls under it; B trades little and flat."""

    def a_price(i: int) -> int:
        if i < 5:  # the opening range 09:00-09:05: 70,000-70,500
            return 70_000 + 100 * (i % 3)
        if i < 90:  # a steady climb
            return 70_300 + 100 * (i - 4)
        return max(60_000, 78_800 - 200 * (i - 89))

    bars = path_bars(A, a_price, day, volume=50_000) + path_bars(
        B, lambda i: 120_000, day, volume=1_000
    )
    return DayInput(day, bars, {A: 70_000, B: 120_000}, {A: 1_000_000, B: 500_000}, news)


def test_opening_breakout_enters_the_leader_with_news_and_exits() -> None:
    news = [NewsEvent(A, at(DAY, "08:40"), 85, "호재")]
    spec = RunSpec("opening_breakout", {"top_n": 1, "news_threshold": 70})
    result = run(spec, INSTRUMENTS, [breakout_day(news)])
    buys = [o for o in result.books.orders if o.side == "buy" and o.status != "rejected"]
    assert [o.code for o in buys] == [A]
    entry = buys[0]
    assert at(DAY, "09:05") < entry.created_at < at(DAY, "10:00")
    assert entry.volume_rank == 1 and entry.news_score == 85
    assert entry.filled_quantity == entry.quantity
    (trade,) = result.books.trades
    assert trade.code == A and trade.closed_position
    assert trade.news_score == 85 and trade.volume_rank == 1
    assert trade.pnl == recomputed_pnl(result) == result.broker_realized


def test_an_entry_refused_is_not_followed_by_an_exit() -> None:
    """The same day with a budget below one share (sizing refuses) and with the weight per stock at
    0.01 % (the risk check refuses): no order, and — as live — no VWAP-breakdown exit of a position
    the strategy never had (no `nothing_sellable` rejection)."""
    news = [NewsEvent(A, at(DAY, "08:40"), 85, "호재")]
    spec = RunSpec("opening_breakout", {"top_n": 1, "news_threshold": 70})
    base = run(spec, INSTRUMENTS, [breakout_day(news)])
    assert base.signals.get("accepted") == 2  # the entry and its exit, when there is money
    poor = run(dataclasses.replace(spec, budget_krw=1_000), INSTRUMENTS, [breakout_day(news)])
    assert poor.books.orders == [] and poor.signals == {"rejected:budget": 1}
    tight = dataclasses.replace(spec.limits, weight_pct=Decimal("0.01"))
    capped = run(dataclasses.replace(spec, limits=tight), INSTRUMENTS, [breakout_day(news)])
    assert capped.books.orders == [] and list(capped.signals) == ["rejected:weight"]


def test_opening_breakout_without_news_fails_closed() -> None:
    spec = RunSpec("opening_breakout", {"top_n": 1, "news_threshold": 70})
    result = run(spec, INSTRUMENTS, [breakout_day([])])
    assert result.books.orders == []
    assumed = run(dataclasses.replace(spec, assume_news_score=80), INSTRUMENTS, [breakout_day([])])
    assert [o.code for o in assumed.books.orders if o.side == "buy"] == [A]


def test_opening_breakout_no_look_ahead() -> None:
    news = [NewsEvent(A, at(DAY, "08:40"), 85)]
    spec = RunSpec("opening_breakout", {"top_n": 1, "news_threshold": 70})
    day = breakout_day(news)
    base = run(spec, INSTRUMENTS, [day])
    entry_at = next(o.created_at for o in base.books.orders if o.side == "buy")
    t = entry_at + dt.timedelta(minutes=3)
    # After t, B suddenly trades ten times A's value and A crashes: nothing before t may change.
    changed = [
        b
        if b.end <= t
        else dataclasses.replace(
            b, volume=b.volume * (1000 if b.code == B else 1), low=b.low - 5_000
        )
        for b in day.bars
    ]
    other = run(spec, INSTRUMENTS, [dataclasses.replace(day, bars=changed)])
    assert decisions(base, t) == decisions(other, t)
    assert decisions(base, day.bars[-1].end) != decisions(other, day.bars[-1].end)


def test_condition_entry_buys_on_the_event_and_fills_after_its_minute() -> None:
    bars = path_bars(A, lambda i: 70_000 + 100 * (i % 5))
    event = ConditionEvent(A, at(DAY, "10:00") + dt.timedelta(seconds=30), "1", "돌파", True)
    spec = RunSpec("condition_entry", {"condition_seqs": "1"})
    result = run(spec, INSTRUMENTS[:1], [DayInput(DAY, bars, {A: 70_000}, conditions=[event])])
    buy, sell = result.books.orders
    assert buy.side == "buy" and buy.created_at == event.at and buy.cause == "signal"
    first_fill = next(f for f in result.books.fills if f.order_seq == buy.seq)
    assert first_fill.executed_at == at(DAY, "10:02")  # the 10:01 bar holds trades before the event
    # No exit of its own: the risk engine's time exit sells before the close.
    close = calendar.session(DAY).close
    assert sell.side == "sell" and sell.cause == "risk_exit" and sell.cause_ref == "time_exit"
    assert sell.created_at == close - dt.timedelta(minutes=10)
    assert sum(t.pnl for t in result.books.trades) == recomputed_pnl(result)


def test_condition_entry_ignores_other_conditions() -> None:
    bars = path_bars(A, lambda i: 70_000)
    event = ConditionEvent(A, at(DAY, "10:00"), "2", "other", True)
    spec = RunSpec("condition_entry", {"condition_seqs": "1"})
    result = run(spec, INSTRUMENTS[:1], [DayInput(DAY, bars, {A: 70_000}, conditions=[event])])
    assert result.books.orders == []


def test_the_stop_loss_of_the_risk_engine_exits() -> None:
    def price(i: int) -> int:
        return 70_000 if i < 30 else 65_000

    bars = path_bars(A, price)
    event = ConditionEvent(A, at(DAY, "09:10"), "1", "c", True)
    spec = RunSpec("condition_entry", {"condition_seqs": "1"})
    result = run(spec, INSTRUMENTS[:1], [DayInput(DAY, bars, {A: 70_000}, conditions=[event])])
    sell = next(o for o in result.books.orders if o.side == "sell")
    assert sell.cause_ref == "stop_loss"
    assert result.books.trades[0].pnl < 0


def test_on_day_false_stops_after_that_day() -> None:
    days = [
        DAY,
        calendar.next_trading_day(DAY),
        calendar.next_trading_day(calendar.next_trading_day(DAY)),
    ]
    inputs = [DayInput(d, path_bars(A, wave(), d), {A: 70_000}) for d in days]
    seen: list[int] = []

    def on_day(done: int, total: int) -> bool:
        seen.append(done)
        return done < 2

    result = run(RunSpec("ma_cross"), INSTRUMENTS[:1], iter(inputs), total_days=3, on_day=on_day)
    assert result.cancelled and result.days == 2 and seen == [1, 2]
