"""The backtest's tape mode: the stored minute bars replayed as the simulator's own tape, with the
simulator's own matching — the model paper trading runs on, so that a backtest and a paper session of
the same day make the same trades (README, "Backtests", parity).

The bar mode (`runner.run`, the default) decides at each bar's close and fills on the next bar. Live and
paper decide on ticks: the opening breakout enters on the tick that crosses the opening high, the risk
exits fire on the tick that crosses a stop or a target, and an order is matched at once against the
book. Bars cannot show that, so the tape mode replays the day the way the simulator does when it
replays a minute file (`pricing="replay"`): each bar becomes the prints `apps.broker.simulator.pricing.
minute_ticks` draws for it (open → high/low → close, its volume exactly; seeded, so the same ticks as
the paper session), the 09:00 and 15:30 auctions print at their single prices, and orders go to the
simulator's order desk in process — a marketable order fills against the synthesised book at once, a
resting one when a later print reaches it (its share of the print's volume × participation), an
auction order at the single price, commission and the dated sell tax from its ledger.

Per scheduled item of the exchange (a print, an auction, a phase change, a minute's start; the condition
checks only for a strategy with chosen `condition_seqs`: `TapeBroker.next_event_at`), in
this order — what the realtime process does with the same stream:
1. scan slots due by then: the ranking of the tape so far (`scan.ScanBook` fed with every print: the
   cumulative traded value the simulator's ka10032 ranks by) → `ScanEvent`;
2. news and stored condition events timed at or before it → the engine (no stored condition events when
   the exchange checks its own);
3. the exchange advances to it; each print → `TickEvent` (its bar closes on the next minute's first
   print, as `LiveBars` closes it), then the risk exits on that price (`apps.risk.exits.evaluate`, as
   the realtime risk handler does on every tick) — a risk exit resting while the print is under its
   limit for `RISK_EXIT_CHASE_SECONDS` (exchange seconds; `RunSpec.exit_chase_seconds`) is cancelled
   (`apps.risk.exits.chase_due`, the handler's rule) and the code's next print sends it again at its
   price, as the handler's next tick does; each condition entry/exit of a check → `ConditionEvent`
   at the check's time (what the live path makes of the 02 frame); fills → the books;
4. a `ClockEvent` (bars whose minute is over without a print close), and the time exit without ticks.
The day before the run: the first day's `prev_bars` (the stored previous trading day) are the exchange's
history (`TapeBroker(before=…)`), as a paper simulator's file holds the day before its start, so the
condition fields that read the previous day are paper's on the first day too; a code without it gets a
generated day, in `RunResult.notes` and the log (`TapeRun._check_prev_day`).
Every signal is sized and checked exactly as in the bar mode (`runner._Run._execute` / `_place`) and sent
at the exchange's current time. Slower than the bar mode (up to ten prints a bar).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from apps.broker.backtest.tape import TapeBar, TapeBroker, TapeCondition, TapePrint
from apps.broker.contract import OrderRejected
from apps.risk.exits import chase_due, time_exit_at
from apps.strategy.engine.events import BarEvent, ClockEvent, ConditionEvent, Signal, TickEvent
from krx import KST, calendar

from .runner import DayInput, Instrument, RunSpec, _Run, risk_exit_chase_seconds
from .scan import ScanBook, scan_slots

__all__ = ["TapeRun", "day_bars", "prev_day_bars", "run_tape"]

log = logging.getLogger(__name__)

_MINUTE = dt.timedelta(minutes=1)


def day_bars(data: DayInput) -> list[TapeBar]:
    """A day's bars as the tape broker's rows (bar END minute `HHMM`, KST; the closing auction's bar is
    `1530` however it was stamped — ka10080 says 15:31)."""
    return [_row(bar, data.day) for bar in data.bars]


def _row(bar: BarEvent, day: dt.date) -> TapeBar:
    hhmm = bar.end.astimezone(KST).strftime("%H%M")
    hhmm = "1530" if hhmm > "1520" else hhmm
    return (bar.code, day, hhmm, bar.open, bar.high, bar.low, bar.close, bar.volume)


def prev_day_bars(first: DayInput) -> list[TapeBar]:
    """The rows of the day before the run (`first.prev_bars`) for the codes trading on `first.day`: only
    its latest day strictly before `first.day` (no look-ahead). The exchange replays the run, not this
    day; as a paper simulator replaying a file that holds the day before, it reads the day's daily bar
    from them (`History.daily_before`: `prev_volume` and the per-time share of it)."""
    codes = {b.code for b in first.bars}
    dated = [(b.end.astimezone(KST).date(), b) for b in first.prev_bars if b.code in codes]
    days = [d for d, _ in dated if d < first.day]
    if not days:
        return []
    prev = max(days)
    return [_row(b, prev) for d, b in dated if d == prev]


class TapeRun(_Run):
    """`runner._Run` with the simulator's tape and matching in place of the bar model."""

    def __init__(
        self, spec: RunSpec, instruments: Sequence[Instrument], days: Sequence[DayInput]
    ) -> None:
        self._days = days
        self._before = prev_day_bars(
            days[0]
        )  # the exchange's day before (`_broker`, `_check_prev_day`)
        # The exchange's own condition checks, only for a strategy that buys on them (they cost speed)
        self.exchange_conditions = bool(spec.params.get("condition_seqs"))
        start = dt.datetime.combine(days[0].day, dt.time(8, 0), tzinfo=KST)
        super().__init__(spec, instruments, start)
        self.equity_points, self.minute_equity, self.sessions = [], [], []
        chase = spec.exit_chase_seconds
        self.chase_seconds = risk_exit_chase_seconds() if chase is None else float(chase)
        self.exits_chased = 0
        self.notes: list[str] = []
        self._check_prev_day(days[0])

    def _broker(self, spec: RunSpec, instruments: Sequence[Instrument], start: dt.datetime) -> Any:
        days = self._days
        return TapeBroker(
            [bar for data in days for bar in day_bars(data)],
            {i.code: i.market for i in instruments},
            days[0].bases,
            seed=spec.tape_seed, cash=spec.cash, commission_rate=spec.commission_rate,
            participation=spec.participation, slippage_ticks=spec.slippage_ticks,
            calendar_cache_dir=_cache_dir(), conditions=self.exchange_conditions,
            conditions_path=spec.tape_conditions_path, before=self._before,
        )  # fmt: skip

    def _check_prev_day(self, first: DayInput) -> None:
        """Each code of the first day whose exchange has not got the stored day before (none stored, or
        its bars do not close at the day's base price): the simulator generated that day, so its
        previous-day fields can differ from a paper session's that replays the day before. A note of
        the results and a log line say so."""
        stored: dict[str, int] = {}
        for row in self._before:
            stored[row[0]] = stored.get(row[0], 0) + row[7]
        exchange = self.broker.exchange
        codes = sorted({b.code for b in first.bars})
        missing = [c for c in codes if exchange.quote(c).prev_volume != stored.get(c, -1)]
        if not missing:
            return
        prev = calendar.previous_trading_day(first.day)
        shown = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
        self.notes.append(
            f"Day 1 ({first.day}): no stored previous trading day ({prev}) for {len(missing)}/"
            f"{len(codes)} codes ({shown}): their prev_volume / volume_ratio_prev_day read a "
            "simulator-generated day."
        )
        log.warning(
            "tape backtest from %s: no stored previous trading day (%s) for %s; their previous-day "
            "condition fields read a generated day",
            first.day, prev, ", ".join(missing),
        )  # fmt: skip

    def day(self, data: DayInput) -> None:
        spec, engine, broker = self.spec, self.engine, self.broker
        session = calendar.session(data.day)
        close = session.close
        self._time_exit_at = time_exit_at(close, spec.exit_policy)
        self.bases = broker.begin_day(data.day)
        for code, base in self.bases.items():
            self.marks.setdefault(code, base)
        self.opening_equity = self.equity()
        self.opening_unrealized = sum(
            p.quantity * self.marks.get(p.code, 0) - p.cost_amount - p.cost_fees
            for p in self.books.held()
        )
        scan = ScanBook(
            {c: i.name for c, i in self.instruments.items()}, self.bases, data.prev_volume,
            data.news, rows=spec.scan_rows, assume_news_score=spec.assume_news_score,
        )  # fmt: skip
        slots = sorted(scan_slots(data.day, spec.scan_window))
        # The exchange's condition events replace the stored ones (the same searches, evaluated here)
        stored = () if self.exchange_conditions else data.conditions
        side = sorted(
            [(n.at, 0, n) for n in data.news] + [(c.at, 1, c) for c in stored],
            key=lambda x: (x[0], x[1]),
        )
        end = close + _MINUTE
        minute = None
        while True:
            at = broker.next_event_at()
            if at is None or at > end:
                break
            while slots and slots[0] <= at:  # 1.
                slot = slots.pop(0)
                self._step(broker.advance(slot), scan, data.day, close)
                event = scan.scan(slot)
                if event is not None:
                    self._signals(engine.on_event(event), data.day, close)
            while side and side[0][0] <= at:  # 2.
                self._signals(engine.on_event(side.pop(0)[2]), data.day, close)
            self._step(broker.advance(at), scan, data.day, close)  # 3.
            self._signals(engine.on_event(ClockEvent(at)), data.day, close)  # 4.
            if self.books.holding and self._time_exit_at is not None and at >= self._time_exit_at:
                self._exits(at, data.day, close, {})
            broker.collect()
            self._sync_fills()
            if at.replace(second=0, microsecond=0) != minute:
                minute = at.replace(second=0, microsecond=0)
                self.minute_equity.append(self.equity())
        for _, _, event in side:
            self._signals(engine.on_event(event), data.day, close)
        self._step(broker.advance(end), scan, data.day, close)
        broker.collect()
        self._sync_fills()
        for order in self.books.open_orders():
            self.books.finish(order, close, "expired")
        self.equity_points.append((close, self.equity()))
        self.sessions.append((session.open, close))

    def _signals(self, signals: Iterable[Signal], day: dt.date, close: dt.datetime) -> None:
        for signal in signals:
            self._execute(signal, day, close)

    def _step(
        self,
        prints: list[TapePrint | TapeCondition],
        scan: ScanBook,
        day: dt.date,
        close: dt.datetime,
    ) -> None:
        engine, broker = self.engine, self.broker
        for p in prints:
            if isinstance(p, TapeCondition):
                self._signals(engine.on_event(condition_event(p)), day, close)
                continue
            code, price = p.code, p.price
            self.marks[code] = price
            scan.on_bar(
                BarEvent(code, p.at, price, price, price, price, p.volume, price * p.volume)
            )
            self.bars += 1
            tick = TickEvent(code, p.at, price, p.volume, p.cum_volume, p.cum_value)
            self._signals(engine.on_event(tick), day, close)
            if self.books.holding and not p.auction:
                broker.collect()
                self._sync_fills()
                chased = self._chase(code, price, p.at)
                bar = BarEvent(code, p.at, price, price, price, price, p.volume)
                self._exits(p.at, day, close, {code: bar}, skip=code if chased else None)

    def _chase(self, code: str, price: int, at: dt.datetime) -> bool:
        """The realtime risk handler's chase on this print: a risk exit of `code` resting under the
        market for `chase_seconds` is cancelled (True); its remainder goes again on the next print."""
        for order in self.books.open_orders():
            if order.code != code or order.side != "sell" or order.cause != "risk_exit":
                continue
            resting = (at - order.created_at).total_seconds()
            if not chase_due(order.price, price, resting, self.chase_seconds):
                return False
            try:
                self.broker.cancel_order(order.order_no, code)
            except OrderRejected:  # nothing open any more: its fills are in the books
                return False
            self.broker.collect()
            self._sync_fills()  # a part filled before the cancel stays filled
            self.books.finish(order, at, "cancelled")
            self.exits_chased += 1
            return True
        return False


def condition_event(c: TapeCondition) -> ConditionEvent:
    """The engine's event of an exchange's condition entry/exit, as the live path builds it from the
    02 frame's row (`apps.strategy.handler_support.condition_event`: code, the frame's exchange time,
    seq, name, entered, the price of the last print at or before it; no stored row, so no id)."""
    return ConditionEvent(c.code, c.at, c.seq, c.name, c.entered, c.price)


def run_tape(
    spec: RunSpec,
    instruments: Sequence[Instrument],
    days: Iterable[DayInput],
    *,
    total_days: int = 0,
    on_day: Callable[[int, int], bool] | None = None,
) -> Any:
    """`runner.run` in tape mode (see the module docstring); the same `RunResult` (`bars` counts
    the prints replayed). The days are held in memory: the exchange is built from all of them."""
    from .runner import RunResult

    days = list(days)
    if not days:
        return RunResult(runner_books(), [], [], [], {}, 0, 0, False, 0, spec.cash)
    state = TapeRun(spec, instruments, days)
    cancelled = False
    count = 0
    for data in days:
        state.day(data)
        count += 1
        if on_day is not None and not on_day(count, total_days or len(days)):
            cancelled = True
            break
    account = state.broker.ledger.account(state.broker.account)
    return RunResult(
        books=state.books, equity=state.equity_points, minute_equity=state.minute_equity,
        sessions=state.sessions, signals=state.signals, days=count, bars=state.bars,
        cancelled=cancelled, broker_realized=state.broker.realized_pnl(), final_cash=account.cash,
        notes=state.notes,
    )  # fmt: skip


def _cache_dir() -> str | None:
    """Where the XKRX trading-day list is cached (the simulator's calendar), when Django is set up."""
    try:
        from django.conf import settings

        return str(settings.VAR_DIR) + "/cache"
    except Exception:  # not configured: build the list in memory
        return None


def runner_books() -> Any:
    from .books import Books

    return Books()
