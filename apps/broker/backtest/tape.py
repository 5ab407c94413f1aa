"""The backtest broker of the tape mode: the simulator's exchange in process, replaying minute bars as its
own tape (`pricing="replay"` from rows in memory) and matching orders as paper trading does (a marketable
order against the synthesised book at once, a resting one by later prints, auctions at the single price,
the ledger's fees and dated tax). The caller steps it one scheduled item at a time (`next_event_at`,
`advance`) and reads the prints in between (`TapePrint`), so its decisions land between two prints exactly
where a paper session's do (apps/backtests/tape.py; README, "Backtests", parity).

Pure: the broker contract, the simulator and krx.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.broker.contract import InvalidRequest, OrderRejected, OrderType, Side
from apps.broker.simulator import dto as sim
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.universe import MinuteRow
from krx import KST, Market

__all__ = ["TapeBar", "TapeBroker", "TapeCondition", "TapePrint"]

ACCOUNT = "5000000010"

# (code, day, bar END minute "HHMM" KST, open, high, low, close, volume); the closing auction is "1530"
TapeBar = tuple[str, dt.date, str, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class TapePrint:
    """One print of the tape (what a 0B frame carries of it)."""

    code: str
    at: dt.datetime
    price: int
    volume: int
    cum_volume: int
    cum_value: int
    auction: bool


@dataclass(frozen=True, slots=True)
class TapeCondition:
    """A code entering (`entered`) or leaving condition `seq` at a check of the exchange (what a 02 I/D
    frame carries of it), priced as the live conditions handler prices a frame: the code's last print at
    or before the check (before its first print, a quote: the base price)."""

    seq: str
    name: str
    code: str
    entered: bool
    at: dt.datetime
    price: int


@dataclass(frozen=True, slots=True)
class TapeFill:
    """One execution, with order and fill numbers unique over the run (the exchange's restart daily)."""

    order_no: str
    fill_no: str
    qty: int
    price: int
    time: dt.datetime
    commission: int
    tax: int


class _Limits:
    __slots__ = ("limits",)

    def __init__(self, limits: tuple[int, int]) -> None:
        self.limits = limits


class _DayLimits:
    """`days.get(code).limits`, as `BacktestBroker.days` answers it, from the exchange's quote."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def get(self, code: str) -> _Limits | None:
        try:
            q = self.exchange.quote(code)
        except sim.SimRejection:
            return None
        return _Limits((q.lower_limit, q.upper_limit))


class _Ack:
    __slots__ = ("order_no",)

    def __init__(self, order_no: str) -> None:
        self.order_no = order_no


class TapeBroker:
    """One paper account on the simulator's exchange replaying `bars` (every day of the run)."""

    def __init__(
        self,
        bars: Iterable[TapeBar],
        markets: Mapping[str, str],
        first_bases: Mapping[str, int],
        *,
        seed: int,
        cash: int,
        commission_rate: Decimal,
        participation: Decimal,
        slippage_ticks: int,
        calendar_cache_dir: str | None = None,
        conditions: bool = False,
        conditions_path: str | None = None,
        before: Iterable[TapeBar] = (),
    ) -> None:
        bars = list(bars)
        first = min(bar[1] for bar in bars)
        rows: dict[tuple[str, dt.date], list[MinuteRow]] = {}
        # `before`: bars of days before the run, in the replay rows as a paper simulator's file holds
        # the day before its start: read as history (the previous day's volume), never replayed
        for code, day, hhmm, o, h, lo, c, v in [*(b for b in before if b[1] < first), *bars]:
            rows.setdefault((code, day), []).append(MinuteRow(code, day, hhmm, o, h, lo, c, v))
        for day_rows in rows.values():
            day_rows.sort(key=lambda r: r.hhmm)
        self.exchange = Exchange(
            ExchangeConfig(
                seed=seed, pricing="replay", minute_rows=rows,
                markets={code: Market(m) for code, m in markets.items()},
                base_prices=dict(first_bases),
                start=dt.datetime.combine(first, dt.time(8, 0), tzinfo=KST),
                calendar_cache_dir=calendar_cache_dir, accounts=(ACCOUNT,), start_cash=cash,
                commission_rate=commission_rate, participation=participation,
                market_slippage_ticks=slippage_ticks, condition_checks=conditions,
                conditions_path=conditions_path,
            )
        )  # fmt: skip
        # The condition checks (every 10 s, every code) cost speed and move no price: only when asked.
        self.conditions = conditions
        self._names = {c.seq: c.name for c in self.exchange.condition_list()}
        self._last: dict[str, int] = {}  # code -> its last print (the conditions' price)
        self.account = ACCOUNT
        self.ledger = self.exchange.ledger
        self.days = _DayLimits(self.exchange)
        self.fill_log: list[TapeFill] = []  # every execution of the run, in time order
        self._day: dt.date = first
        self._day_fills: list[Any] | None = None
        self._seen = 0

    # ------------------------------------------------------------------ orders
    def place_order(
        self, side: Side, code: str, qty: int, order_type: OrderType, price: int
    ) -> _Ack:
        """A limit order at the exchange's current time (`OrderRejected` as the exchange refuses)."""
        if order_type is not OrderType.LIMIT:
            raise InvalidRequest("the tape mode sends limit orders")
        try:
            ack = self.exchange.place_order(
                self.account, sim.Side.BUY if side is Side.BUY else sim.Side.SELL, code, qty, price
            )
        except sim.SimRejection as exc:
            raise OrderRejected(str(exc)) from exc
        return _Ack(self._order_no(ack.order_no))

    def cancel_order(self, order_no: str, code: str) -> None:
        """Cancel the open remainder of today's `order_no` at the exchange's current time
        (`OrderRejected` when nothing of it is open)."""
        day, _, raw = order_no.partition("-")
        if day != f"{self._day:%Y%m%d}":
            raise OrderRejected(f"{order_no}: not an order of {self._day}")
        try:
            self.exchange.cancel_order(self.account, raw, code)
        except sim.SimRejection as exc:
            raise OrderRejected(str(exc)) from exc

    def realized_pnl(self) -> int:
        """Realised P&L of the run, net of commission and tax (the ledger's figure)."""
        return int(self.ledger.account(self.account).realized_total)

    # ------------------------------------------------------------------ the tape
    def begin_day(self, day: dt.date) -> dict[str, int]:
        """Move to `day`'s 08:00 (the exchange rolls to it); its base price per code."""
        self.exchange.advance(dt.datetime.combine(day, dt.time(8, 0), tzinfo=KST))
        self._day = day
        self._last = {}
        self.collect()
        return {i.code: self.exchange.quote(i.code).base_price for i in self.exchange.instruments()}

    def next_event_at(self) -> dt.datetime | None:
        """The exchange's next scheduled item (the condition checks skipped unless `conditions`: they
        print nothing)."""
        return self.exchange.next_event_at(skip_checks=not self.conditions)

    def advance(self, to: dt.datetime) -> list[TapePrint | TapeCondition]:
        """Move the exchange to `to`: the prints and the condition entries/exits on the way, in the
        exchange's order (a check after the prints of its instant: it reads them)."""
        out: list[TapePrint | TapeCondition] = []
        last = self._last
        for e in self.exchange.advance(to):
            if isinstance(e, sim.Tick):
                last[e.code] = e.price
                out.append(
                    TapePrint(
                        e.code, e.time, e.price, e.volume, e.cum_volume, e.cum_value, e.auction
                    )
                )
            elif isinstance(e, sim.ConditionEvent):
                # Live, a code without a print yet is priced by a quote: its base price.
                price = last.get(e.code) or self.exchange.quote(e.code).price
                name = self._names.get(e.seq, "")
                out.append(TapeCondition(e.seq, name, e.code, e.kind == "I", e.time, price))
        return out

    def collect(self) -> None:
        """Append the exchange's new executions to `fill_log`."""
        log = self.ledger.fill_log.get(self.account, [])
        if log is not self._day_fills:
            self._day_fills, self._seen = log, 0
        for f in log[self._seen :]:
            self.fill_log.append(
                TapeFill(
                    self._order_no(f.order_no), f"{self._day:%Y%m%d}-{f.fill_no}", f.qty, f.price,
                    f.time, f.commission, f.tax,
                )
            )  # fmt: skip
        self._seen = len(log)

    def _order_no(self, order_no: str) -> str:
        return f"{self._day:%Y%m%d}-{order_no}"
