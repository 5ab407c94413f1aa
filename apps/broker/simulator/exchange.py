"""The exchange facade: one object that is the simulated KRX market plus the paper accounts.

The protocol layer (server.py, rest/, ws.py) talks only to `Exchange`; every value in and out is
engine-level (see dto.py): int KRW, Decimal rates, aware datetimes, codes without 'A'.

Time only moves when the owner of the loop calls `advance(to)`; the exchange never reads a clock
by itself except `advance()` without an argument, which asks the injected clock (clock.py).
Settlement is simplified: cash and shares move at the fill (no T+2); open buy orders hold cash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from .dto import (
    ORDER_TYPE_NAMES,
    AccountSummary,
    BalanceEvent,
    Bar,
    BookLevel,
    CashInfo,
    ConditionEvent,
    ConditionInfo,
    DailyBar,
    Event,
    Fill,
    Holding,
    Instrument,
    Market,
    OrderAck,
    OrderAction,
    OrderBook,
    OrderEvent,
    OrderStatus,
    OrderType,
    OrderView,
    PhaseEvent,
    Quote,
    SessionPhase,
    Side,
    SimRejection,
    StockStats,
    Tick,
    ViEvent,
)
from .universe import MinuteRow

__all__ = [
    "ORDER_TYPE_NAMES",
    "AccountSummary",
    "BalanceEvent",
    "Bar",
    "BookLevel",
    "CashInfo",
    "ConditionEvent",
    "ConditionInfo",
    "DailyBar",
    "Event",
    "Exchange",
    "ExchangeConfig",
    "Fill",
    "Holding",
    "Instrument",
    "Market",
    "OrderAck",
    "OrderAction",
    "OrderBook",
    "OrderEvent",
    "OrderStatus",
    "OrderType",
    "OrderView",
    "PhaseEvent",
    "Quote",
    "SessionPhase",
    "Side",
    "SimRejection",
    "StockStats",
    "Tick",
    "ViEvent",
]

PricingMode = Literal["synthetic", "daily", "replay"]
RankKind = Literal["value", "volume", "change_up", "change_down", "volume_surge"]


@dataclass(frozen=True)
class ExchangeConfig:
    """How to build an exchange.

    - `universe`: None = the built-in ~40-stock universe; a path to a stock-master CSV
      (../shared/data/krx/master format) restricts/extends it by name; `codes` picks a subset.
    - `pricing`: 'synthetic' (seeded generator), 'daily' (intraday paths matching real daily bars
      from `daily_path`, a marcap-style CSV/CSV.GZ), 'replay' (minute bars from `minute_path`).
    - `start`: the simulated time the exchange starts at (default: the clock's now).
    - `clock`: a clock.py clock; default a ManualClock at `start`, or the WallClock when neither
      `start` nor `clock` is given.
    - `use_krx_calendar`: trading days from XKRX (holidays); False = every weekday trades.
    - `participation`: the share of each simulated print (and auction volume) the paper orders
      may take together; `market_slippage_ticks`: extra ticks a resting market remainder pays.
    - `accounts`: account numbers opened at start with `start_cash` each (more can be opened with
      `open_account`).
    """

    seed: int = 0
    pricing: PricingMode = "synthetic"
    universe: str | Path | None = None
    codes: tuple[str, ...] = ()
    daily_path: str | Path | None = None
    minute_path: str | Path | None = None
    start: dt.datetime | None = None
    clock: Any = None
    accounts: tuple[str, ...] = ()
    start_cash: int = 100_000_000
    commission_rate: Decimal = Decimal("0.00015")
    participation: Decimal = Decimal("0.5")  # share of each tape print our orders may take
    market_slippage_ticks: int = 1
    conditions_path: str | Path | None = None
    state_path: str | Path | None = None
    # False = weekdays only (no holidays): skips building the XKRX calendar (~7 s per process)
    use_krx_calendar: bool = True
    # Where the XKRX trading-day list is cached (krx.calendar.trading_days): a restart skips the build
    calendar_cache_dir: str | Path | None = None
    # 'replay' from rows in memory instead of `minute_path` ((code, day) -> MinuteRow list, as
    # universe.load_minutes returns): the backtest's tape mode replays stored bars this way
    minute_rows: Mapping[tuple[str, dt.date], list[MinuteRow]] | None = None
    # market per code of a replayed universe (tick sizes and limits differ by market); default KOSPI
    markets: Mapping[str, Market] | None = None
    # the first day's base price (previous close) per code; default: the replayed rows' previous
    # day's close, else the instrument's
    base_prices: Mapping[str, int] | None = None
    # False: the condition searches are never evaluated (no 10-second checks, no condition events);
    # prices and matching are the same either way (the backtest's tape mode reads no conditions)
    condition_checks: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class Exchange:
    """Facade over the simulated market (universe, pricing, KRX rules, VI, conditions) and the
    paper accounts (orders, fills, cash, holdings). Not thread-safe: call it from one loop."""

    def __init__(self, config: ExchangeConfig | None = None) -> None:
        """Build the market from `config` (see ExchangeConfig). Deterministic for config.seed."""
        from .engine import Engine

        self.config = config or ExchangeConfig()
        self._engine = Engine(self.config)

    # ------------------------------------------------------------------ time
    def now(self) -> dt.datetime:
        """The simulated time the market has been advanced to (aware, Asia/Seoul)."""
        return self._engine.now

    @property
    def clock(self) -> Any:
        """The injected clock (clock.py); `advance()` without an argument asks it for the time."""
        return self._engine.clock

    def phase(self) -> SessionPhase:
        """Session phase at now() (CLOSED on non-trading days)."""
        return self._engine.phase

    def trading_day(self) -> dt.date:
        """The trading day now() belongs to (the next one when the market is closed for the day)."""
        return self._engine.day

    def next_trading_day(self) -> dt.date:
        """The trading day after trading_day() (by the exchange's calendar)."""
        return self._engine.days.next(self._engine.day)

    def next_event_at(self, skip_checks: bool = False) -> dt.datetime | None:
        """When the market's next scheduled item (a print, an auction, a phase change, a minute's
        start, a condition check, the day roll) happens; None when nothing is scheduled.
        `advance(next_event_at())` moves the market one step, so a caller can act between two
        prints (the backtest's tape mode). `skip_checks`: the next item that is not a condition
        check (every 10 s; they print nothing)."""
        return self._engine.next_event_at(frozenset({"check"}) if skip_checks else frozenset())

    def advance(self, to: dt.datetime | None = None) -> list[Event]:
        """Move the market to `to` (default: clock.now()) and return every event on the way, in
        time order: PhaseEvent, Tick, OrderEvent, BalanceEvent, ViEvent, ConditionEvent. Moving
        backwards is a no-op. Day boundaries roll the market (new base prices, open orders
        expire with a 취소 event, order numbers restart)."""
        return self._engine.advance(to if to is not None else self._engine.clock.now())

    # ------------------------------------------------------------------ accounts / orders
    def open_account(self, account: str, cash: int | None = None) -> None:
        """Open a paper account with `cash` (default config.start_cash); no-op if it exists."""
        self._engine.ledger.open_account(account, cash)

    @property
    def ledger(self) -> Any:
        """The paper accounts' ledger (ledger.Ledger), to read cash, positions and fills in process
        (the backtest's tape mode); orders go through place_order/amend_order/cancel_order."""
        return self._engine.ledger

    def accounts(self) -> list[str]:
        """Account numbers known to the exchange."""
        return self._engine.ledger.numbers()

    def place_order(
        self,
        account: str,
        side: Side | str,
        code: str,
        qty: int,
        price: int = 0,
        order_type: OrderType | str = OrderType.LIMIT,
    ) -> OrderAck:
        """Submit a new order. `price` is ignored (use 0) for market orders. Emits 접수 (and
        maybe immediate 체결) OrderEvents on the next advance(). Raises SimRejection with a
        Kiwoom-style message for unknown codes, bad qty/price, off-tick or out-of-limit prices,
        insufficient cash/holdings, or a closed market; a rejection changes nothing."""
        return self._engine.desk.place_order(
            account, Side(side), code, qty, price, OrderType(order_type)
        )

    def amend_order(
        self, account: str, orig_order_no: str, code: str, qty: int, price: int
    ) -> OrderAck:
        """Amend (정정) the open remainder of `orig_order_no`: `qty` 0 = the whole remainder. The
        amended part gets a new order number and the new price; the original keeps any part not
        amended. Never lets filled + open exceed the original quantity."""
        return self._engine.desk.amend_order(account, orig_order_no, code, qty, price)

    def cancel_order(self, account: str, orig_order_no: str, code: str, qty: int = 0) -> OrderAck:
        """Cancel (취소) `qty` of the open remainder (0 = all). New order number; the ack's
        base_order_no is the root of the amend chain."""
        return self._engine.desk.cancel_order(account, orig_order_no, code, qty)

    def open_orders(self, account: str, code: str | None = None) -> list[OrderView]:
        """Orders with an open remainder (미체결), newest first."""
        return self._engine.ledger.open_orders(account, code)

    def orders(self, account: str, code: str | None = None) -> list[OrderView]:
        """Every order of the current trading day (open, filled, cancelled), newest first."""
        return self._engine.ledger.orders(account, code)

    def order(self, account: str, order_no: str) -> OrderView:
        """One order of the current trading day; SimRejection if unknown."""
        return self._engine.ledger.order(account, order_no)

    def fills(self, account: str, code: str | None = None) -> list[Fill]:
        """Executions of the current trading day, newest first."""
        return self._engine.ledger.fills(account, code)

    def cash(self, account: str) -> CashInfo:
        """Deposit, cash held by open buy orders, orderable cash, fees and tax today."""
        return self._engine.ledger.cash(account)

    def holdings(self, account: str) -> list[Holding]:
        """Positions with qty > 0, valued at the last price, sorted by code."""
        return self._engine.holdings(account)

    def summary(self, account: str) -> AccountSummary:
        """Evaluation totals of the account."""
        return self._engine.summary(account)

    def orderable_qty(self, account: str, side: Side | str, code: str, price: int = 0) -> int:
        """Shares the account can buy at `price` (0 = the upper limit, as for market orders)
        with its orderable cash, or sell from its orderable holdings."""
        return self._engine.desk.orderable_qty(account, Side(side), code, price)

    # ------------------------------------------------------------------ market reads
    def instruments(self, market: Market | str | None = None) -> list[Instrument]:
        """Listed instruments of the universe, optionally one market, sorted by code."""
        return self._engine.reads.instruments(Market(market) if market else None)

    def instrument(self, code: str) -> Instrument:
        """One instrument; SimRejection('1902', ...) if unknown."""
        return self._engine.reads.instrument(code)

    def quote(self, code: str) -> Quote:
        """Basic info and today's running numbers of `code`."""
        return self._engine.reads.quote(code)

    def order_book(self, code: str) -> OrderBook:
        """10-level book synthesised around the last price on the tick grid, within the limits."""
        return self._engine.reads.order_book(code)

    def minute_bars(
        self,
        code: str,
        minutes: int = 1,
        before: dt.datetime | None = None,
        limit: int = 900,
    ) -> list[Bar]:
        """Minute bars of `minutes` (1,3,5,10,15,30,45,60), newest first, ending strictly before
        `before` (bar start < before; default: now). Today's completed/current bars come from
        the live tape; earlier days are generated deterministically (about one year back)."""
        return self._engine.reads.minute_bars(code, minutes, before, limit)

    def day_minute_values(
        self, code: str, day: dt.date, after: int = -1
    ) -> tuple[dt.datetime, int, list[tuple[int, int, int]]]:
        """One trading day's 1-minute bars, reduced to what the news source reads: (the session's open,
        the base price, [(minute index from the open, close, traded value)] for the minutes after `after`
        that traded, oldest first). Today: the live tape so far (the current minute included); an earlier
        day: its recorded or generated bars."""
        return self._engine.reads.day_minute_values(self._engine.stock(code).inst.code, day, after)

    def daily_bars(self, code: str, end: dt.date | None = None, limit: int = 600) -> list[DailyBar]:
        """Daily bars newest first, dates <= `end` (default: today; today's bar is the running
        one once trading has started). History is deterministic for the seed."""
        return self._engine.reads.daily_bars(code, end, limit)

    def stats(self, market: Market | str | None = None) -> list[StockStats]:
        """Per-stock ranking inputs for the whole universe (or one market), sorted by code."""
        return self._engine.reads.stats(Market(market) if market else None)

    def rankings(
        self, kind: RankKind, market: Market | str | None = None, limit: int = 100
    ) -> list[StockStats]:
        """Convenience rankings: 'value' (ka10032), 'volume' (ka10030), 'change_up'/'change_down'
        (ka10027), 'volume_surge' (ka10023, vs the previous day's volume to the same time)."""
        return self._engine.reads.rankings(kind, Market(market) if market else None, limit)

    def recent_volume(self, code: str, minutes: int) -> tuple[int, int]:
        """(volume of the last `minutes` minutes, volume of the `minutes` before that), for the
        minute mode of ka10023."""
        return self._engine.reads.recent_volume(code, minutes)

    # ------------------------------------------------------------------ conditions
    def condition_list(self) -> list[ConditionInfo]:
        """Condition searches defined in the YAML file, by seq."""
        return self._engine.conditions.list()

    def condition_members(self, seq: str) -> list[str]:
        """Codes currently matching condition `seq`; SimRejection if the seq is unknown."""
        return self._engine.condition_members(seq)

    def condition_changes(self) -> list[ConditionEvent]:
        """Every entry (I) and exit (D) of every condition so far today, in time order (the same
        whether or not anybody subscribed, and after a restart: the day is replayed)."""
        return list(self._engine.condition_log)

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: clock position, order counters, accounts, orders, fills, market day
        state. `Exchange.restore(snapshot)` rebuilds an equivalent exchange."""
        return self._engine.snapshot()

    @classmethod
    def restore(cls, state: dict[str, Any], config: ExchangeConfig | None = None) -> Exchange:
        """Rebuild an exchange from `snapshot()` output. Without `config` the snapshot's own
        config is used (ManualClock at the snapshot's time); with one, it supplies the clock and
        paths, and its seed/pricing must match the snapshot's."""
        from .engine import Engine

        if config is None:
            saved = dict(
                state.get("config") or {"seed": state["seed"], "pricing": state["pricing"]}
            )
            saved["codes"] = tuple(saved.get("codes") or ())
            for key in ("commission_rate", "participation"):
                if key in saved:
                    saved[key] = Decimal(saved[key])
            config = ExchangeConfig(**{k: v for k, v in saved.items() if v is not None})
        self = cls.__new__(cls)
        self.config = config
        self._engine = Engine.from_snapshot(state, self.config)
        return self

    def save(self, path: str | Path | None = None) -> None:
        """Write snapshot() atomically to `path` (default config.state_path)."""
        from .store import save_state

        target = path or self.config.state_path
        if target is None:
            raise ValueError("no state path configured")
        save_state(Path(target), self.snapshot())

    @classmethod
    def load_or_create(cls, config: ExchangeConfig) -> Exchange:
        """Restore from config.state_path when the file exists, else build fresh."""
        from .store import load_state

        if config.state_path is not None:
            state = load_state(Path(config.state_path))
            if state is not None:
                return cls.restore(state, config)
        return cls(config)
