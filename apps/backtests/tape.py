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
checks are skipped: `Exchange.next_event_at`), in
this order — what the realtime process does with the same stream:
1. scan slots due by then: the ranking of the tape so far (`scan.ScanBook` fed with every print: the
   cumulative traded value the simulator's ka10032 ranks by) → `ScanEvent`;
2. news and condition events timed at or before it → the engine;
3. the exchange advances to it; each print → `TickEvent` (its bar closes on the next minute's first
   print, as `LiveBars` closes it), then the risk exits on that price (`apps.risk.exits.evaluate`, as
   the realtime risk handler does on every tick); fills → the books;
4. a `ClockEvent` (bars whose minute is over without a print close), and the time exit without ticks.
Every signal is sized and checked exactly as in the bar mode (`runner._Run._execute` / `_place`) and sent
at the exchange's current time. Slower than the bar mode (up to ten prints a bar).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from apps.broker.contract import InvalidRequest, OrderRejected, OrderType, Side
from apps.broker.simulator import dto as sim
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.universe import MinuteRow
from apps.risk.exits import time_exit_at
from apps.strategy.engine.events import BarEvent, ClockEvent, Signal, TickEvent
from krx import KST, Market, calendar

from .runner import DayInput, Instrument, RunSpec, _Run
from .scan import ScanBook, scan_slots

__all__ = ["TapeBroker", "TapeRun", "day_rows"]

ACCOUNT = "5000000010"
_MINUTE = dt.timedelta(minutes=1)


def day_rows(data: DayInput) -> dict[tuple[str, dt.date], list[MinuteRow]]:
    """A day's bars as the simulator's replay rows (bar END minute `HHMM`, KST; the closing auction's
    bar is `1530` however it was stamped — ka10080 says 15:31)."""
    out: dict[tuple[str, dt.date], list[MinuteRow]] = {}
    for bar in data.bars:
        hhmm = bar.end.astimezone(KST).strftime("%H%M")
        out.setdefault((bar.code, data.day), []).append(
            MinuteRow(
                bar.code, data.day, "1530" if hhmm > "1520" else hhmm, bar.open, bar.high,
                bar.low, bar.close, bar.volume,
            )
        )  # fmt: skip
    for rows in out.values():
        rows.sort(key=lambda r: r.hhmm)
    return out


class _Limits:
    __slots__ = ("limits",)

    def __init__(self, limits: tuple[int, int]) -> None:
        self.limits = limits


class _DayLimits:
    """`broker.days.get(code).limits` of the bar model's broker, read from the exchange's quote."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def get(self, code: str) -> _Limits | None:
        try:
            q = self.exchange.quote(code)
        except sim.SimRejection:
            return None
        return _Limits((q.lower_limit, q.upper_limit))


class TapeBroker:
    """What the runner asks of its broker, served by the simulator's exchange in process."""

    def __init__(
        self,
        spec: RunSpec,
        instruments: Sequence[Instrument],
        days: Sequence[DayInput],
        seed: int,
        calendar_cache_dir: str | None = None,
    ) -> None:
        rows: dict[tuple[str, dt.date], list[MinuteRow]] = {}
        for data in days:
            rows.update(day_rows(data))
        first = days[0]
        self.exchange = Exchange(
            ExchangeConfig(
                seed=seed, pricing="replay", minute_rows=rows,
                markets={i.code: Market(i.market) for i in instruments},
                base_prices=dict(first.bases),
                start=dt.datetime.combine(first.day, dt.time(8, 0), tzinfo=KST),
                use_krx_calendar=True, calendar_cache_dir=calendar_cache_dir,
                accounts=(ACCOUNT,), start_cash=spec.cash,
                commission_rate=spec.commission_rate, participation=spec.participation,
                market_slippage_ticks=spec.slippage_ticks,
            )
        )  # fmt: skip
        self.account = ACCOUNT
        self.ledger = self.exchange.ledger
        self.days = _DayLimits(self.exchange)
        self.fill_log: list[Any] = []  # runner._Run._sync_fills reads it
        self.day: dt.date | None = None
        self._day_fills: list[Any] | None = None
        self._seen = 0

    # ------------------------------------------------------------------ what the runner calls
    def place_order(
        self, side: Side, code: str, qty: int, order_type: OrderType, price: int
    ) -> Any:
        if order_type is not OrderType.LIMIT:
            raise InvalidRequest("the tape mode sends limit orders")
        try:
            ack = self.exchange.place_order(
                self.account, sim.Side.BUY if side is Side.BUY else sim.Side.SELL, code, qty, price
            )
        except sim.SimRejection as exc:
            raise OrderRejected(str(exc)) from exc
        return _Ack(self._order_no(ack.order_no))

    def realized_pnl(self) -> int:
        return int(self.ledger.account(self.account).realized_total)

    # ------------------------------------------------------------------ the tape
    def _order_no(self, order_no: str) -> str:
        # The exchange numbers orders afresh each day; the run's books need them unique.
        return f"{self.day:%Y%m%d}-{order_no}"

    def collect(self) -> None:
        """Append the exchange's new executions to `fill_log` (unique order numbers)."""
        log = self.ledger.fill_log.get(self.account, [])
        if log is not self._day_fills:
            self._day_fills, self._seen = log, 0
        for fill in log[self._seen :]:
            self.fill_log.append(_Fill(fill, self._order_no(fill.order_no)))
        self._seen = len(log)


class _Ack:
    __slots__ = ("order_no",)

    def __init__(self, order_no: str) -> None:
        self.order_no = order_no


class _Fill:
    """A ledger fill with the run's order number (the fields `_Run._sync_fills` reads)."""

    __slots__ = ("commission", "fill_no", "order_no", "price", "qty", "tax", "time")

    def __init__(self, fill: Any, order_no: str) -> None:
        self.order_no = order_no
        self.fill_no = f"{fill.time.astimezone(KST):%Y%m%d}-{fill.fill_no}"
        self.qty, self.price, self.time = fill.qty, fill.price, fill.time
        self.commission, self.tax = fill.commission, fill.tax


class TapeRun(_Run):
    """`runner._Run` with the simulator's tape and matching in place of the bar model."""

    def __init__(
        self, spec: RunSpec, instruments: Sequence[Instrument], days: Sequence[DayInput]
    ) -> None:
        self._days = days
        start = dt.datetime.combine(days[0].day, dt.time(8, 0), tzinfo=KST)
        super().__init__(spec, instruments, start)
        self.equity_points, self.minute_equity, self.sessions = [], [], []

    def _broker(self, spec: RunSpec, instruments: Sequence[Instrument], start: dt.datetime) -> Any:
        return TapeBroker(spec, instruments, self._days, spec.tape_seed, _cache_dir())

    def day(self, data: DayInput) -> None:
        spec, engine, broker = self.spec, self.engine, self.broker
        ex: Exchange = broker.exchange
        session = calendar.session(data.day)
        close = session.close
        self._time_exit_at = time_exit_at(close, spec.exit_policy)
        ex.advance(dt.datetime.combine(data.day, dt.time(8, 0), tzinfo=KST))
        broker.day = data.day
        broker.collect()
        self.bases = {i.code: ex.quote(i.code).base_price for i in ex.instruments()}
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
        side = sorted(
            [(n.at, 0, n) for n in data.news] + [(c.at, 1, c) for c in data.conditions],
            key=lambda x: (x[0], x[1]),
        )
        end = close + _MINUTE
        minute = None
        while True:
            at = ex.next_event_at(skip_checks=True)
            if at is None or at > end:
                break
            while slots and slots[0] <= at:  # 1.
                slot = slots.pop(0)
                self._step(ex.advance(slot), scan, data.day, close)
                event = scan.scan(slot)
                if event is not None:
                    self._signals(engine.on_event(event), data.day, close)
            while side and side[0][0] <= at:  # 2.
                self._signals(engine.on_event(side.pop(0)[2]), data.day, close)
            self._step(ex.advance(at), scan, data.day, close)  # 3.
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
        self._step(ex.advance(end), scan, data.day, close)
        broker.collect()
        self._sync_fills()
        for order in self.books.open_orders():
            self.books.finish(order, close, "expired")
        self.equity_points.append((close, self.equity()))
        self.sessions.append((session.open, close))

    def _signals(self, signals: Iterable[Signal], day: dt.date, close: dt.datetime) -> None:
        for signal in signals:
            self._execute(signal, day, close)

    def _step(self, events: list[Any], scan: ScanBook, day: dt.date, close: dt.datetime) -> None:
        engine, broker = self.engine, self.broker
        for e in events:
            if not isinstance(e, sim.Tick):
                continue
            code, price = e.code, e.price
            self.marks[code] = price
            scan.on_bar(
                BarEvent(code, e.time, price, price, price, price, e.volume, price * e.volume)
            )
            self.bars += 1
            self._signals(
                engine.on_event(
                    TickEvent(code, e.time, price, e.volume, e.cum_volume, e.cum_value)
                ),
                day,
                close,
            )
            if self.books.holding and not e.auction:
                broker.collect()
                self._sync_fills()
                tick = BarEvent(code, e.time, price, price, price, price, e.volume)
                self._exits(e.time, day, close, {code: tick})


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
