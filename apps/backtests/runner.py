"""The backtest runner: stored bars, day by day, through the live strategy, risk and sizing code against
the in-process `BacktestBroker` (no database here: `selectors` loads the days, `services` stores results).

Per trading day: `broker.begin_day(day, bases)` (the previous close sets the price limits), then each
minute `T` at which bars end, in this order —

1. the broker matches the open orders against the bars ending at `T` (orders placed at `T − 1` or
   earlier: an order never fills in the bar it was decided on); fills go to the backtest's own books;
2. news items and condition events timed before `T` → the engine (a condition at 09:12:30 sees the bars
   up to 09:12, never the 09:13 bar that contains its later trades);
3. the bars ending at `T` → the engine as `BarEvent`s (what the live handler builds from stored bars,
   `handler_support.bar_event`), and into the scan book; then the events timed exactly `T`;
4. a scan slot at `T` → the rebuilt ranking (`scan.ScanBook`) as a `ScanEvent`;
5. the risk engine's exits (`apps.risk.exits.evaluate`) on each held position at its bar's close;
6. every signal of steps 2–5 is sized by the live `execution.plan_order` (budget, marketable limit
   `STRATEGY_ENTRY_SLIPPAGE_PCT` above / `STRATEGY_EXIT_SLIPPAGE_PCT` below the reference, tick grid,
   price limits), passes the live pre-trade check `apps.risk.check.check` on a snapshot of the
   backtest's books, and goes to the broker; a refusal is kept as a rejected order with its reasons.

The day closes with `broker.end_day()` (open remainders expire). Equity (cash + held shares at the last
close) is sampled each minute for the drawdown and kept once per day for the curve.
Cancellation and progress: `on_day(index, total) -> bool` is called after each day; False stops the run.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.broker.backtest import BacktestBroker
from apps.broker.contract import InvalidRequest, OrderRejected, OrderType, Side
from apps.broker.contract import MinuteBar as ContractBar
from apps.risk import check as risk
from apps.risk.exits import (
    HeldPosition,
    evaluate,
    exit_limit_price,
    stop_threshold,
    take_profit_threshold,
    time_exit_at,
)
from apps.risk.policy import DEFAULT_EXIT_POLICY, ExitPolicy
from apps.strategy.engine import build_engine
from apps.strategy.engine.base import StrategySettings
from apps.strategy.engine.events import BarEvent, ConditionEvent, NewsEvent, Signal
from apps.strategy.execution import Prepared
from apps.strategy.scanner_schedule import ScanWindow
from apps.strategy.sizing import plan_order, weight_room
from krx import DEFAULT_COMMISSION_RATE, KST, calendar, price_limits

from .books import Books, BtOrder, BtPosition
from .scan import ScanBook, scan_slots

__all__ = ["DayInput", "Instrument", "RunResult", "RunSpec", "run"]


def risk_exit_slippage() -> Decimal:
    """The risk exits' marketable-limit slippage: the realtime risk handler's setting
    (`RISK_EXIT_SLIPPAGE_PCT`), not the strategies' exit one (`STRATEGY_EXIT_SLIPPAGE_PCT`)."""
    from django.conf import settings

    return Decimal(str(getattr(settings, "RISK_EXIT_SLIPPAGE_PCT", "1")))


def risk_exit_chase_seconds() -> float:
    """How long a risk exit rests under the market before it is chased: the realtime risk handler's
    setting (`RISK_EXIT_CHASE_SECONDS`)."""
    from django.conf import settings

    return float(getattr(settings, "RISK_EXIT_CHASE_SECONDS", 3.0))


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    market: str  # krx.Market value: KOSPI / KOSDAQ / KONEX


@dataclass(frozen=True)
class RunSpec:
    strategy: str
    params: Mapping[str, Any] = field(default_factory=dict)
    budget_krw: int = 10_000_000
    cash: int = 100_000_000
    limits: risk.Limits = field(default_factory=risk.Limits)
    exit_policy: ExitPolicy = DEFAULT_EXIT_POLICY
    participation: Decimal = Decimal("0.1")
    slippage_ticks: int = 1
    commission_rate: Decimal = DEFAULT_COMMISSION_RATE
    scan_window: ScanWindow | None = field(default_factory=ScanWindow)
    scan_rows: int = 30
    assume_news_score: int | None = None
    # "bars": decide at each bar's close, fill on the next bar (fast); "tape": the simulator's tape
    # and matching, as paper trading runs (tape.py; slower, the same trades as a paper session)
    fill_model: str = "bars"
    tape_seed: int = 7  # the tape mode's seed: the paper simulator's (KIWOOM_SIM_SEED) for parity
    # the tape mode's chase of a resting risk exit (`apps.risk.exits.chase_due`), in exchange seconds;
    # None: RISK_EXIT_CHASE_SECONDS, the realtime risk handler's setting
    exit_chase_seconds: float | None = None
    # the tape mode's condition searches: the paper simulator's file (KIWOOM_SIM_CONDITIONS_FILE; None:
    # its shipped default_conditions.yaml), evaluated only for a strategy with `condition_seqs`
    tape_conditions_path: str | None = None


@dataclass(frozen=True)
class DayInput:
    day: dt.date
    bars: Sequence[BarEvent]  # every code's 1-minute bars of the day (any order)
    bases: Mapping[str, int]  # the day's base price (previous close) per code
    prev_volume: Mapping[str, int] = field(default_factory=dict)
    news: Sequence[NewsEvent] = ()
    conditions: Sequence[ConditionEvent] = ()
    # The run's first day only, for the tape mode: the previous trading day's stored 1-minute bars (its
    # exchange's day before: README "Fields that read the previous day"; `selectors.iter_days`)
    prev_bars: Sequence[BarEvent] = ()


@dataclass
class RunResult:
    books: Books
    equity: list[tuple[dt.datetime, int]]  # one point per day (its close)
    minute_equity: list[int]  # the per-minute equity (for the drawdown)
    sessions: list[tuple[dt.datetime, dt.datetime]]
    signals: dict[str, int]  # by outcome: accepted / rejected:<code> / ...
    days: int
    bars: int
    cancelled: bool
    broker_realized: int
    final_cash: int
    notes: list[str] = field(default_factory=list)  # what the results should say about the data


class _Run:
    def __init__(
        self, spec: RunSpec, instruments: Sequence[Instrument], start: dt.datetime
    ) -> None:
        self.spec = spec
        self.instruments = {i.code: i for i in instruments}
        self.broker = self._broker(spec, instruments, start)
        self.settings = StrategySettings(spec.strategy, 0, True, spec.budget_krw, spec.params)
        self.engine = build_engine({spec.strategy: self.settings})
        self.books = Books()
        self.account = self.broker.ledger.account(self.broker.account)
        self.seq = 0
        self.fills_seen = 0
        self.marks: dict[str, int] = {}
        self.signals: dict[str, int] = {}
        self.entries: deque[dt.datetime] = deque()  # buys of the last minute
        self.bars = 0
        self._thresholds: dict[str, tuple[tuple[int, int], int, int | None]] = {}
        self._time_exit_at: dt.datetime | None = None

    def _broker(self, spec: RunSpec, instruments: Sequence[Instrument], start: dt.datetime) -> Any:
        """The bar model's broker (`tape.TapeRun` brings the simulator's exchange instead)."""
        from apps.broker.contract import Instrument as ContractInstrument

        return BacktestBroker(
            [
                ContractInstrument(
                    code=i.code, name=i.name, market=i.market, market_name=i.market,
                    listed_shares=0, listing_date=None, previous_close=None, sector="",
                    size_class="",
                )
                for i in instruments
            ],
            start,
            cash=spec.cash,
            commission_rate=spec.commission_rate,
            participation=spec.participation,
            slippage_ticks=spec.slippage_ticks,
            keep_bars=False,
            events=False,  # fills are read from its fill log (`_sync_fills`), orders from the books
        )  # fmt: skip

    # ------------------------------------------------------------------ money
    def equity(self) -> int:
        cash = self.account.cash
        positions = self.books.positions
        if not positions:
            return cash
        marks = self.marks
        return cash + sum(
            p.quantity * marks.get(p.code, 0) for p in positions.values() if p.quantity
        )

    def _sync_fills(self) -> None:
        log = self.broker.fill_log
        for fill in log[self.fills_seen :]:
            order = self.books.by_no.get(fill.order_no)
            if order is not None:
                self.books.on_fill(
                    order, fill.fill_no, fill.qty, fill.price, fill.commission, fill.tax, fill.time
                )
        self.fills_seen = len(log)

    # ------------------------------------------------------------------ one day
    def day(self, data: DayInput) -> None:
        spec, engine, broker = self.spec, self.engine, self.broker
        session = calendar.session(data.day)
        close = session.close
        self._time_exit_at = time_exit_at(close, spec.exit_policy)
        broker.begin_day(data.day, dict(data.bases))
        for code, base in data.bases.items():
            self.marks.setdefault(code, base)
        self.opening_equity = self.equity()
        self.opening_unrealized = sum(
            p.quantity * self.marks.get(p.code, 0) - p.cost_amount - p.cost_fees
            for p in self.books.held()
        )
        self.bases = data.bases
        scan = ScanBook(
            {c: i.name for c, i in self.instruments.items()},
            data.bases,
            data.prev_volume,
            data.news,
            rows=spec.scan_rows,
            assume_news_score=spec.assume_news_score,
        )
        by_end: dict[dt.datetime, list[BarEvent]] = {}
        for bar in data.bars:
            by_end.setdefault(bar.end, []).append(bar)
        slots = set(scan_slots(data.day, spec.scan_window))
        moments = sorted(set(by_end) | slots)
        side_events = sorted(
            [(n.at, 0, n) for n in data.news] + [(c.at, 1, c) for c in data.conditions],
            key=lambda x: (x[0], x[1]),
        )
        si = 0
        n_side = len(side_events)
        on_event, on_bar, marks, books = engine.on_event, broker.on_bar, self.marks, self.books
        scan_bar = scan.on_bar if slots else None
        minute_equity = self.minute_equity
        for at in moments:
            bars = by_end.get(at, ())
            if len(bars) > 1:
                bars.sort(key=lambda b: b.code)
            signals: list[Signal] = []
            kst = at.astimezone(KST)
            for bar in bars:  # 1. the broker first: orders from earlier minutes
                on_bar(
                    ContractBar(bar.code, kst, bar.open, bar.high, bar.low, bar.close, bar.volume)
                )
            if bars and len(broker.fill_log) > self.fills_seen:
                self._sync_fills()
            while si < n_side and side_events[si][0] < at:  # 2.
                signals.extend(on_event(side_events[si][2]))
                si += 1
            for bar in bars:  # 3.
                marks[bar.code] = bar.close
                if scan_bar is not None:
                    scan_bar(bar)
                got = on_event(bar)
                if got:
                    signals.extend(got)
            while si < n_side and side_events[si][0] == at:  # timed at T: after T's bars
                signals.extend(on_event(side_events[si][2]))
                si += 1
            self.bars += len(bars)
            if slots and at in slots:  # 4.
                event = scan.scan(at)
                if event is not None:
                    signals.extend(on_event(event))
            for signal in signals:
                self._execute(signal, data.day, close)
            if books.working or books.holding:
                self._exits(at, data.day, close, {b.code: b for b in bars})  # 5.
                minute_equity.append(self.equity())
            else:
                minute_equity.append(self.account.cash)
        for _, _, event in side_events[si:]:
            for signal in engine.on_event(event):
                self._execute(signal, data.day, close)
        broker.end_day()
        self._sync_fills()
        broker.drain()  # none are built (events=False); kept so that a subscriber's never pile up
        for order in self.books.open_orders():
            self.books.finish(order, close, "expired")
        self.equity_points.append((close, self.equity()))
        self.sessions.append((session.open, close))

    # ------------------------------------------------------------------ exits and orders
    def _might_exit(self, position: BtPosition, price: int | None, at: dt.datetime) -> bool:
        """A cheap pre-filter with the exit module's own thresholds: False only when `evaluate` would
        surely decide nothing (no price threshold crossed, before the time exit, no trailing stop)."""
        policy = self.spec.exit_policy
        if policy.trailing_stop_pct is not None:
            return True
        if self._time_exit_at is not None and at >= self._time_exit_at:
            return True
        if price is None:
            return False
        key = (position.cost_amount, position.quantity)
        cached = self._thresholds.get(position.code)
        if cached is None or cached[0] != key:
            avg = Decimal(position.cost_amount) / position.quantity
            stop = math.floor(stop_threshold(avg, policy))
            target = take_profit_threshold(avg, policy)
            cached = (key, stop, math.ceil(target) if target is not None else None)
            self._thresholds[position.code] = cached
        _, stop, target = cached
        return price <= stop or (target is not None and price >= target)

    def _exits(
        self,
        at: dt.datetime,
        day: dt.date,
        close: dt.datetime,
        bars: Mapping[str, BarEvent],
        skip: str | None = None,
    ) -> None:
        held = self.books.held()
        if not held:
            return
        for position in held:
            bar = bars.get(position.code)
            if bar is not None and bar.high > position.high:
                position.high = bar.high
            if position.code == skip:
                continue  # its exit was just chased: the next price sends it again, as live
            price = bar.close if bar is not None else None
            if not self._might_exit(position, price, at) or self.books.reserved(position.code):
                continue  # nothing to decide, or an exit is already working
            holding = HeldPosition(
                position.code,
                position.quantity,
                Decimal(position.cost_amount) / position.quantity,
                position.high or None,
                position.entry_time,
            )
            decision = evaluate(holding, price, at, close, self.spec.exit_policy)
            if decision is None:
                continue
            reference = decision.price or self.marks.get(position.code)
            if not reference:
                continue
            limits = self._limits(position.code, day)
            market = self.instruments[position.code].market
            price = exit_limit_price(reference, risk_exit_slippage(), limits[0], market, day)
            self._place(
                position.code, "sell", position.quantity, price, at, day,
                tag=position.strategy_tag, cause="risk_exit", ref=str(decision.kind),
                reason=decision.reason, reference=reference, automatic=False,
            )  # fmt: skip

    def _exposure(self, code: str) -> int:
        """The code's exposure for the weight per stock: held at the mark plus unfilled buys."""
        position = self.books.positions.get(code)
        held = position.quantity * self.marks.get(code, 0) if position is not None else 0
        return held + sum(
            o.remaining * (o.price or 0)
            for o in self.books.open_orders()
            if o.side == "buy" and o.code == code
        )

    def _limits(self, code: str, day: dt.date) -> tuple[int, int]:
        state = self.broker.days.get(code)
        if state is not None:
            return state.limits
        base = self.bases.get(code) or self.marks.get(code) or 1
        return price_limits(base, self.instruments[code].market, day)

    def _count(self, outcome: str) -> None:
        self.signals[outcome] = self.signals.get(outcome, 0) + 1

    def _execute(self, signal: Signal, day: dt.date, close: dt.datetime) -> None:
        code = signal.code
        inst = self.instruments.get(code)
        if inst is None:
            self._count("rejected:unknown_code")
            return
        position = self.books.positions.get(code)
        used = sum(
            p.cost_amount for p in self.books.held() if p.strategy_tag == signal.strategy
        ) + sum(
            o.remaining * (o.price or 0)
            for o in self.books.open_orders()
            if o.side == "buy" and o.strategy_tag == signal.strategy
        )
        sellable = 0
        if position is not None and position.quantity:
            sellable = position.quantity - self.books.reserved(code)
        prepared = Prepared(
            0,
            "new",
            self.broker.account,
            inst.market,
            inst.name,
            used,
            sellable,
            max_order_krw=self.spec.limits.max_order_value,
            weight_room_krw=weight_room(
                self.spec.limits.weight_pct, self.opening_equity, self._exposure(code)
            ),
        )
        reference = signal.price or self.marks.get(code)
        plan = plan_order(signal, prepared, self.settings, reference, self._limits(code, day))
        if plan.refusal is not None:
            self._count(f"rejected:{plan.refusal['code']}")
            self.engine.dismiss(signal)  # as live: no order, no exit of a position never had
            return
        features = signal.features or {}
        checked = self._place(
            code, signal.side, plan.quantity, plan.price, signal.at, day,
            tag=signal.strategy, cause="signal", ref=signal.key, reason=signal.reason,
            reference=reference, automatic=True, news=features.get("news_score"),
            rank=features.get("rank"),
        )  # fmt: skip
        if not checked:
            self.engine.dismiss(signal)

    def _snapshot(self, code: str, at: dt.datetime, day: dt.date) -> risk.Snapshot:
        positions = {
            p.code: risk.PositionState(
                p.code,
                p.quantity,
                self.books.reserved(p.code),
                p.cost_amount + p.cost_fees,
                self.marks.get(p.code),
            )
            for p in self.books.held()
        }
        open_orders = tuple(
            risk.OpenOrder(o.code, o.side, o.remaining, o.price) for o in self.books.open_orders()
        )
        recent, entries = at - dt.timedelta(seconds=60), self.entries
        while entries and entries[0] <= recent:
            entries.popleft()
        return risk.Snapshot(
            now=at,
            trading_day=day,
            session_close=calendar.session(day).close,
            opening_equity=self.opening_equity,
            opening_unrealized=self.opening_unrealized,
            realized_today=self.books.realized_by_day.get(day, 0),
            positions=positions,
            open_orders=open_orders,
            entries_last_minute=sum(1 for t in entries if t > recent),
            state=risk.RiskState.ACTIVE,
            switch_on=True,
            limits=self.spec.limits,
            instrument=risk.InstrumentFlags(
                code,
                self.instruments[code].market,
                frozenset(),
                self.bases.get(code),
                self.marks.get(code),
            ),
        )

    def _place(
        self, code: str, side: str, qty: int, price: int, at: dt.datetime, day: dt.date, *,
        tag: str, cause: str, ref: str, reason: str, reference: int | None, automatic: bool,
        news: int | None = None, rank: int | None = None,
    ) -> bool:  # fmt: skip
        """Check and place one order; False when the risk check refused it (live: no order row)."""
        intent = risk.Intent(code, side, qty, price, reference, automatic)
        decision = risk.check(self._snapshot(code, at, day), intent)
        self.seq += 1
        order = BtOrder(
            self.seq, "", code, side, qty, price, at, tag, cause, ref, reason, reference,
            news if isinstance(news, int) else None, rank if isinstance(rank, int) else None,
        )  # fmt: skip
        if not decision.approved:
            order.status, order.finished_at = "rejected", at
            order.message = ", ".join(decision.codes)
            self.books.add_order(order)
            self._count("rejected:" + decision.codes[0])
            return False
        try:
            ack = self.broker.place_order(
                Side.BUY if side == "buy" else Side.SELL, code, qty, OrderType.LIMIT, price
            )
        except (OrderRejected, InvalidRequest) as exc:
            order.status, order.finished_at, order.message = "rejected", at, str(exc)[:300]
            self.books.add_order(order)
            self._count("rejected:broker")
            return True
        order.order_no = ack.order_no
        self.books.add_order(order)
        if side == "buy":
            self.entries.append(at)
        self._count("accepted")
        return True

    equity_points: list[tuple[dt.datetime, int]]
    minute_equity: list[int]
    sessions: list[tuple[dt.datetime, dt.datetime]]


def run(
    spec: RunSpec,
    instruments: Sequence[Instrument],
    days: Iterable[DayInput],
    *,
    total_days: int = 0,
    on_day: Callable[[int, int], bool] | None = None,
) -> RunResult:
    """Replay `days` (in date order) and return the books; see the module docstring (and `tape.py` for
    `spec.fill_model == "tape"`)."""
    if spec.fill_model == "tape":
        from .tape import run_tape

        return run_tape(spec, instruments, days, total_days=total_days, on_day=on_day)
    first = None
    state: _Run | None = None
    cancelled = False
    count = 0
    for data in days:
        if state is None:
            first = dt.datetime.combine(data.day, dt.time(8, 0), tzinfo=KST)
            state = _Run(spec, instruments, first)
            state.equity_points, state.minute_equity, state.sessions = [], [], []
        state.day(data)
        count += 1
        if on_day is not None and not on_day(count, total_days):
            cancelled = True
            break
    if state is None:
        return RunResult(Books(), [], [], [], {}, 0, 0, cancelled, 0, spec.cash)
    account = state.broker.ledger.account(state.broker.account)
    return RunResult(
        books=state.books,
        equity=state.equity_points,
        minute_equity=state.minute_equity,
        sessions=state.sessions,
        signals=state.signals,
        days=count,
        bars=state.bars,
        cancelled=cancelled,
        broker_realized=state.broker.realized_pnl(),
        final_cash=account.cash,
    )
