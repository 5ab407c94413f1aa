"""The tape mode (`apps/backtests/tape.py`): the simulator's tape and matching in process. Its parity with a
paper session over the sockets is `test_parity.py` (slow); here, without a database: it decides on ticks
(earlier than the bar mode's bar close), it is deterministic, its books agree with the exchange's ledger to
the won over several days, its exchange replays the stored bars exactly, and it chases a resting risk exit by
the realtime risk handler's rule and setting."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from apps.backtests.books import BtOrder
from apps.backtests.runner import RunResult, run
from apps.backtests.tape import TapeRun, day_bars
from apps.backtests.tests.test_runner import recomputed_pnl
from apps.broker.simulator.dto import ConditionEvent, Tick
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.fidelity import compare, served_bars, tick_bars
from apps.broker.simulator.universe import MinuteRow
from apps.market.aggregator import MinuteAggregator
from apps.risk.exits import chase_due
from krx import KST, regular_session

from .test_parity import (
    CODE,
    DAY,
    INSTRUMENT,
    OHLCV,
    condition_settings,
    day_input,
    morning,
    spec_of,
    trades_of,
)

NEXT = DAY + dt.timedelta(days=1)  # 2025-02-05, a Wednesday


def test_the_tape_mode_enters_on_the_breakout_tick_the_bar_mode_at_the_bar_close() -> None:
    day = day_input(DAY, morning())
    tape = trades_of(run(spec_of(), [INSTRUMENT], [day]))
    bars = trades_of(run(spec_of(fill_model="bars"), [INSTRUMENT], [day]))
    assert [t[1] for t in tape] == ["buy", "sell"] and [t[1] for t in bars] == ["buy", "sell"]
    assert tape[0][0] < bars[0][0]
    assert tape[0][0].astimezone(KST).second or tape[0][0].microsecond  # inside a minute
    assert bars[0][0].astimezone(KST).second == 0  # the bar mode fills at a bar's end
    assert trades_of(run(spec_of(), [INSTRUMENT], [day])) == tape  # deterministic


def test_several_days_book_to_the_won_with_unique_order_numbers() -> None:
    days = [day_input(DAY, morning(DAY)), day_input(NEXT, morning(NEXT), base=50_300)]
    result = run(replace(spec_of(), tape_seed=3), [INSTRUMENT], days)
    assert result.days == 2 and len(result.books.trades) == 2
    assert len({o.order_no for o in result.books.orders if o.order_no}) == 4
    pnl = sum(t.pnl for t in result.books.trades)
    assert pnl == recomputed_pnl(result) == result.broker_realized
    assert result.final_cash == 100_000_000 + pnl
    assert not result.books.held()


def test_the_tape_replays_the_stored_bars_exactly() -> None:
    bars = morning()
    day = day_input(DAY, bars)
    ex = Exchange(
        ExchangeConfig(
            seed=7, pricing="replay", minute_rows={(CODE, DAY): [MinuteRow(*b) for b in day_bars(day)]},
            base_prices={CODE: 50_000},
            start=dt.datetime.combine(DAY, dt.time(8, 0), tzinfo=KST), use_krx_calendar=False,
        )
    )  # fmt: skip
    events = ex.advance(dt.datetime.combine(DAY, dt.time(15, 45), tzinfo=KST))
    assert ex.quote(CODE).base_price == 50_000
    assert compare(bars, served_bars(ex.minute_bars(CODE, 1, None, 2000), DAY)).exact
    ticks = [e for e in events if isinstance(e, Tick)]
    got = tick_bars(ticks, CODE, DAY, lambda c, d: MinuteAggregator(c, regular_session(d)))
    assert compare(bars, got).exact


def thin_crash() -> dict[str, OHLCV]:
    """The breakout morning with 1/200 of its volume (a thin book: the synthesised levels hold a few
    shares), and a crash after the entry, 51,300 → 47,600 from 09:12: the stop-loss exit takes what
    the book holds down to its limit and rests with the remainder while the market trades under it."""
    bars = {k: (o, h, lo, c, max(1, v // 200)) for k, (o, h, lo, c, v) in morning().items()}
    bars["0912"] = (51_300, 51_300, 49_000, 49_000, 15)
    bars["0913"] = (49_000, 49_000, 47_500, 47_600, 15)
    for minute in range(14, 60):
        bars[f"09{minute:02d}"] = (47_600, 47_700, 47_500, 47_600, 5)
    return bars


def risk_exits(result: RunResult) -> list[BtOrder]:
    return [o for o in result.books.orders if o.cause == "risk_exit"]


def test_a_resting_risk_exit_is_chased_as_the_realtime_handler_chases_it(
    settings: Any,
) -> None:
    settings.RISK_EXIT_CHASE_SECONDS = (
        3  # the realtime risk handler's setting, read by the tape mode
    )
    day = day_input(DAY, thin_crash())
    chased = run(spec_of(), [INSTRUMENT], [day])
    first, *again = risk_exits(chased)
    assert first.status == "cancelled" and 0 < first.filled_quantity < first.quantity
    assert (first.finished_at - first.created_at).total_seconds() >= 3
    assert again, "the remainder was not sent again"
    resent = again[0]
    assert resent.created_at > first.finished_at  # on a later print, as the handler's next tick
    assert resent.price < first.price  # at the new, lower price
    assert resent.filled_quantity == resent.quantity and resent.status == "filled"
    pnl = sum(t.pnl for t in chased.books.trades)
    assert pnl == chased.broker_realized  # the books and the exchange's ledger agree to the won

    # Without the chase (the setting, or the spec's own value), the same exit rests under the market.
    settings.RISK_EXIT_CHASE_SECONDS = 10**9
    for spec in (spec_of(), replace(spec_of(), exit_chase_seconds=10**9)):
        resting = run(spec, [INSTRUMENT], [day])
        (only,) = risk_exits(resting)
        assert (only.created_at, only.quantity, only.price) == (
            first.created_at, first.quantity, first.price,
        )  # fmt: skip
        assert only.status != "cancelled" and only.finished_at.astimezone(KST).time() >= dt.time(
            15, 30
        )


@pytest.mark.parametrize(
    ("limit", "price", "resting", "due"),
    [
        (48_550, 48_500, 3.0, True),  # under the limit for the full wait
        (48_550, 48_500, 2.9, False),  # not long enough
        (48_550, 48_550, 60.0, False),  # at the limit: it can still fill
        (48_550, 48_600, 60.0, False),  # above it
        (None, 48_500, 60.0, False),  # nothing resting
    ],
)
def test_the_chase_rule(limit: int | None, price: int, resting: float, due: bool) -> None:
    assert chase_due(limit, price, resting, 3.0) is due


def first_entries(bars: dict) -> dict[str, tuple[dt.datetime, int]]:
    """Per condition, its first entry of the code (time, the last print's price then), by an exchange of
    the simulator's own run over the same tape with its checks on (as the paper simulator runs)."""
    day = day_input(DAY, bars)
    ex = Exchange(
        ExchangeConfig(
            seed=7, pricing="replay", minute_rows={(CODE, DAY): [MinuteRow(*b) for b in day_bars(day)]},
            base_prices={CODE: 50_000},
            start=dt.datetime.combine(DAY, dt.time(8, 0), tzinfo=KST), use_krx_calendar=False,
        )
    )  # fmt: skip
    events = ex.advance(dt.datetime.combine(DAY, dt.time(15, 45), tzinfo=KST))
    out: dict[str, tuple[dt.datetime, int]] = {}
    last = 0
    for e in events:
        if isinstance(e, Tick):
            last = e.price
        elif isinstance(e, ConditionEvent) and e.kind == "I" and e.seq not in out:
            out[e.seq] = (e.time, last)
    return out


def test_condition_entry_buys_on_the_exchanges_own_condition_entry() -> None:
    bars = morning()
    entries = first_entries(bars)
    assert {"0", "2"} <= set(entries)  # the fixture's run enters both, "2" (당일 신고가) first
    assert entries["2"][0] < entries["0"][0]
    day = day_input(DAY, bars)
    for seq in ("2", "0"):
        result = run(spec_of(settings=condition_settings(seq)), [INSTRUMENT], [day])
        buys = [t for t in trades_of(result) if t[1] == "buy"]
        at, price = entries[seq]
        assert len(buys) == 1 and buys[0][0] == at  # at the check's time, to the millisecond
        assert buys[0][2] >= price  # a marketable limit at or above the entry's price
        assert not result.books.held()  # and out by the close


def test_the_checks_run_only_for_chosen_conditions() -> None:
    """They cost speed: the opening breakout's exchange and a condition entry's without conditions chosen
    never evaluate them; one with conditions chosen does."""
    day = day_input(DAY, morning())
    for settings, checked in (
        (None, False), (condition_settings(), False), (condition_settings("2"), True)
    ):  # fmt: skip
        state = TapeRun(spec_of(settings=settings), [INSTRUMENT], [day])
        state.day(day)
        assert bool(state.broker.exchange.condition_changes()) is checked
