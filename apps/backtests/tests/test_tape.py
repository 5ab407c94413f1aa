"""The tape mode (`apps/backtests/tape.py`): the simulator's tape and matching in process. Its parity with a
paper session over the sockets is `test_parity.py` (slow); here, without a database: it decides on ticks
(earlier than the bar mode's bar close), it is deterministic, its books agree with the exchange's ledger to
the won over several days, and its exchange replays the stored bars exactly."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from apps.backtests.runner import run
from apps.backtests.tape import day_bars
from apps.backtests.tests.test_runner import recomputed_pnl
from apps.broker.simulator.dto import Tick
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.fidelity import compare, served_bars, tick_bars
from apps.broker.simulator.universe import MinuteRow
from apps.market.aggregator import MinuteAggregator
from krx import KST, regular_session

from .test_parity import CODE, DAY, INSTRUMENT, day_input, morning, spec_of, trades_of

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
