"""The engine behind the Exchange facade: market day state, the event schedule, matching of the
paper orders against the simulated tape, and the glue to accounts, VI and conditions.

Time model: a heap of scheduled items (phase changes, auction matches, per-minute tick batches,
condition checkpoints every 10 s, VI releases, the day roll) is consumed in time order by
`advance(to)`, so results never depend on how finely the caller slices time. Orders placed between
two advances act at the engine's current time.

Matching rules (documented simplifications):
- Our orders never move the simulated tape (the paper accounts are price takers).
- Continuous session: a marketable order fills at once against the synthesised 10-level book
  (walking levels: market orders see slippage), bounded by the levels' quantities; what rests
  fills when a later print trades at or through its limit (buy: print <= limit), at the limit
  price (market remainders at the print plus `market_slippage_ticks`), sharing
  floor(print volume × participation) among all resting orders of the stock in price-time
  priority.
- Call auctions (08:30-09:00, 15:20-15:30, VI): orders wait; at the match every eligible order
  fills at the single price, sharing floor(auction volume × participation) in price-time priority.
- Day end (15:30, after the closing match): open remainders expire with a 취소 event.
- Rejections raise SimRejection synchronously (no 거부 event). Texts confirmed by PROTOCOL.md:
  855056 매수증거금 부족, 571489 장이 열리지 않는 날, RC4058 모의투자 장종료; the others (off-tick,
  outside limits, 매도가능수량, bad qty, unknown original order) are modelled on Kiwoom's style,
  their exact codes/texts were not found.

Not modelled: CSAT/first-day late opens (the standard 08:30/09:00/15:20/15:30 table is used on
every trading day), after-hours sessions, the random 0-30 s end of a VI, dynamic VI in the closing
auction, price-limit ladders of new listings, corporate actions.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from krx import (
    KST,
    VI_DURATION,
    Market,
    SessionPhase,
    change_sign,
    is_on_tick,
    price_limits,
    regular_phase,
    regular_session,
    sell_tax,
    step_ticks,
    tick_size,
)
from krx import commission as calc_commission

from .accounts import Account, Order
from .clock import ManualClock, WallClock
from .conditions import ConditionSet, load_conditions
from .dto import (
    AccountSummary,
    BalanceEvent,
    Bar,
    BookLevel,
    CashInfo,
    ConditionEvent,
    DailyBar,
    Event,
    Fill,
    Holding,
    Instrument,
    OrderAck,
    OrderAction,
    OrderBook,
    OrderEvent,
    OrderStatus,
    OrderType,
    OrderView,
    PhaseEvent,
    Quote,
    Side,
    SimRejection,
    StockStats,
    Tick,
    ViEvent,
)
from .matching import (
    CONTINUOUS_ONLY,
    FOK_LIKE,
    IOC_LIKE,
    MARKET_LIKE,
    eligible,
    priority,
    slipped,
    synth_levels,
    walk,
)
from .pricing import (
    N_MINUTES,
    DayPath,
    TradingDays,
    cumulative_profile,
    minute_ticks,
    path_from_daily,
    path_from_minutes,
    rng_for,
    synthetic_daily,
)
from .universe import DailyRow, MinuteRow, builtin_universe, load_daily, load_master, load_minutes
from .vi import vi_trigger

if TYPE_CHECKING:
    from .exchange import ExchangeConfig

SNAPSHOT_VERSION = 1
T_PRE_OPEN = dt.time(8, 30)
T_OPEN = dt.time(9, 0)
T_CLOSING_AUCTION = dt.time(15, 20)
T_CLOSE = dt.time(15, 30)
T_ROLL = dt.time(8, 0)
CHECK_EVERY = dt.timedelta(seconds=10)
HUNDRED = Decimal(100)
TWO_DP = Decimal("0.01")


def _reject(code: str, text: str) -> SimRejection:
    return SimRejection(code, f"[2000]({code}:{text})")


def _pct(num: int, den: int) -> Decimal:
    """num/den in percent, 2 decimals, rounded half away from zero (integer arithmetic: this
    runs for every tick)."""
    if den == 0:
        return Decimal("0.00")
    q = (abs(num) * 20_000 // den + 1) // 2
    return Decimal(-q if num < 0 else q).scaleb(-2)


def _at(day: dt.date, t: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, t, tzinfo=KST)


@dataclass
class StockDay:
    """Running state of one stock on the current trading day."""

    inst: Instrument
    path: DayPath
    rng: random.Random
    avg_minute_volume: int
    base: int
    limits: tuple[int, int]
    prev_volume: int
    prev_value: int
    price: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    volume: int = 0
    value: int = 0
    buy_volume: int = 0
    sell_volume: int = 0
    buy_count: int = 0
    sell_count: int = 0
    open_time: dt.datetime | None = None
    high_time: dt.datetime | None = None
    low_time: dt.datetime | None = None
    up_time: dt.datetime | None = None
    down_time: dt.datetime | None = None
    best_ask: int = 0
    best_bid: int = 0
    static_ref: int = 0
    vi_until: dt.datetime | None = None
    vi_count: int = 0
    vi_volume: int = 0
    vi_price: int = 0
    vi_kind: str = "static"
    bars: dict[int, list[int]] = field(default_factory=dict)  # minute -> [o,h,l,c,v,value,cum]
    consumed: dict[int, int] = field(default_factory=dict)
    last_book: dict[int, int] = field(default_factory=dict)

    @property
    def last(self) -> int:
        return self.price or self.base


class Engine:
    def __init__(self, config: ExchangeConfig, _state: dict[str, Any] | None = None) -> None:
        self.config = config
        self.seed = int(config.seed)
        self.participation = Decimal(config.participation)
        self.rate = Decimal(config.commission_rate)
        self.days = TradingDays(getattr(config, "use_krx_calendar", True))
        self._daily_rows: dict[dt.date, dict[str, DailyRow]] = {}
        self._minute_rows: dict[tuple[str, dt.date], list[MinuteRow]] = {}
        self.instruments_by_code = self._load_universe(config)
        self.conditions = ConditionSet(load_conditions(config.conditions_path))
        start = config.start or (config.clock.now() if config.clock else None)
        if _state is not None:
            start = dt.datetime.fromisoformat(_state["now"])
        clock = config.clock
        if start is None:
            # Neither a start nor a clock: run on the wall clock.
            clock = WallClock()
            start = clock.now()
        start = start.astimezone(KST)
        self.clock = clock or ManualClock(start)
        self.accounts: dict[str, Account] = {}
        self.order_index: dict[str, dict[str, Order]] = {}
        self.fill_log: dict[str, list[Fill]] = {}
        self.working: dict[str, list[Order]] = {}
        # per code: (buys, sells) of `working` in price-time priority; dropped on any change
        self._sorted: dict[str, tuple[list[Order], list[Order]]] = {}
        self.order_counters: dict[str, int] = {}
        self.fill_counter = 0
        self.order_seq = itertools.count(1)
        self.outbox: list[Event] = []
        self.recorded: dict[str, dict[dt.date, DailyBar]] = {}
        self._hist: dict[str, list[DailyBar]] = {}
        self._heap: list[tuple[dt.datetime, int, int, str, Any]] = []
        self._hseq = itertools.count()
        self.stocks: dict[str, StockDay] = {}
        self._open_day: dt.date | None = None
        self._extremes: dict[tuple[str, dt.date], Any] = {}
        self._minute_archive: dict[tuple[str, dt.date], dict[int, list[int]]] = {}
        self._open_at = dt.datetime.min.replace(tzinfo=KST)

        if _state is not None:
            self.anchor_day = dt.date.fromisoformat(_state["anchor_day"])
            self.anchor_base = dict(_state["anchor_base"])
            for code, rows in _state.get("recorded", {}).items():
                self.recorded[code] = {}
                for r in rows:
                    bar = self._bar_from_json(code, r)
                    self.recorded[code][bar.date] = bar
            day = dt.date.fromisoformat(_state["day"])
            bases = dict(_state["bases"])
        else:
            day = self._day_for(start)
            bases = {c: i.prev_close for c, i in self.instruments_by_code.items()}
            if self.config.pricing == "daily":
                rows = self._daily_rows.get(day, {})
                bases.update({c: r.prev_close for c, r in rows.items() if c in bases})
            if self.config.pricing == "replay":
                for code in bases:
                    prev = self._replay_daily(code, self.days.previous(day))
                    if prev is not None:
                        bases[code] = prev[3]
            self.anchor_day = day
            self.anchor_base = dict(bases)
        self.day = day
        self.now = min(start, _at(day, T_ROLL)) if start.date() <= day else start
        self._setup_day(day, bases)
        if start >= _at(day, T_CLOSE) and self.days.is_trading_day(day):
            # Starting after the day's close: finish the day from its paths instead of ticks.
            self._fast_forward_day()
            self.now = start
        self._catch_up(start)
        for account in config.accounts:
            self.open_account(account, None)

    # ================================================================== universe / history
    def _load_universe(self, config: ExchangeConfig) -> dict[str, Instrument]:
        base = builtin_universe()
        if config.universe:
            base = load_master(config.universe, config.codes)
        if config.pricing == "daily" and config.daily_path:
            self._daily_rows = load_daily(config.daily_path, [i.code for i in base])
        if config.pricing == "replay" and config.minute_path:
            self._minute_rows = load_minutes(config.minute_path)
            replay_codes = {code for code, _ in self._minute_rows}
            known = {i.code: i for i in base}
            base = []
            for code in sorted(replay_codes):
                first_day = min(d for c, d in self._minute_rows if c == code)
                first = self._minute_rows[(code, first_day)][0]
                inst = known.get(code) or Instrument(
                    code, code, Market.KOSPI, first.open, 100_000_000, 1_000_000
                )
                day_vol = sum(r.volume for r in self._minute_rows[(code, first_day)])
                base.append(
                    Instrument(
                        inst.code, inst.name, inst.market, first.open, inst.listed_shares,
                        max(day_vol, 1), inst.kospi200,
                    )
                )  # fmt: skip
        if config.codes:
            wanted = set(config.codes)
            base = [i for i in base if i.code in wanted]
        if not base:
            raise ValueError("the universe is empty")
        return {i.code: i for i in base}

    def _day_for(self, moment: dt.datetime) -> dt.date:
        """The trading day a moment belongs to: today until the next trading day's roll."""
        d = moment.date()
        if self.days.is_trading_day(d) and moment.time() >= T_ROLL:
            return d
        return self.days.previous(d)

    def _replay_daily(self, code: str, day: dt.date) -> tuple[int, int, int, int, int, int] | None:
        """(open, high, low, close, volume, value) of a replay-file day, if the file has it."""
        rows = self._minute_rows.get((code, day))
        if not rows:
            return None
        volume = sum(r.volume for r in rows)
        value = sum(r.volume * (r.open + r.high + r.low + r.close) // 4 for r in rows)
        return (
            rows[0].open, max(r.high for r in rows), min(r.low for r in rows), rows[-1].close,
            volume, value,
        )  # fmt: skip

    def _bar_from_json(self, code: str, r: list[Any]) -> DailyBar:
        inst = self.instruments_by_code[code]
        day = dt.date.fromisoformat(r[0])
        return DailyBar(
            code, day, r[1], r[2], r[3], r[4], r[5], r[6], r[7], _pct(r[5], inst.listed_shares)
        )

    def _history(self, code: str, depth: int) -> list[DailyBar]:
        """Generated daily bars before the anchor day, newest first, at least `depth` long."""
        hist = self._hist.setdefault(code, [])
        inst = self.instruments_by_code[code]
        day = hist[-1].date if hist else self.anchor_day
        close = hist[-1].prev_close if hist else self.anchor_base[code]
        while len(hist) < depth:
            day = self.days.previous(day)
            row = self._daily_rows.get(day, {}).get(code)
            replay = self._replay_daily(code, day)
            if replay is not None and replay[3] == close:
                o, h, lo, c, v, value = replay
                prev_day = self._replay_daily(code, self.days.previous(day))
                prev = prev_day[3] if prev_day is not None else o
            elif row is not None and row.close == close:
                o, h, lo, c, v, value, prev = (
                    row.open, row.high, row.low, row.close, row.volume, row.value, row.prev_close
                )  # fmt: skip
            else:
                rng = rng_for(self.seed, code, day.isoformat(), "back")
                r = rng.gauss(0.0, 0.018 if inst.market is Market.KOSPI else 0.028)
                prev = _round_tick(close / (1 + r), inst.market, day)
                o, h, lo, c, v = synthetic_daily(inst, prev, day, self.seed, close=close)
                value = v * (o + h + lo + c) // 4
            hist.append(
                DailyBar(code, day, o, h, lo, c, v, value, prev, _pct(v, inst.listed_shares))
            )
            close = prev
        return hist

    def _daily_before(self, code: str, day: dt.date) -> DailyBar:
        """The daily bar of the trading day before `day` (recorded or generated)."""
        prev = self.days.previous(day)
        rec = self.recorded.get(code, {}).get(prev)
        if rec is not None:
            return rec
        hist = self._history(code, 1)
        for i in itertools.count():
            hist = self._history(code, i + 1)
            if hist[i].date <= prev:
                return hist[i]
        raise AssertionError("unreachable")

    # ================================================================== day setup
    def _make_path(self, inst: Instrument, day: dt.date, base: int) -> DayPath:
        mode = self.config.pricing
        if mode == "replay" and (inst.code, day) in self._minute_rows:
            return path_from_minutes(
                inst.code, inst.market, day, base, self._minute_rows[(inst.code, day)]
            )
        row = self._daily_rows.get(day, {}).get(inst.code) if mode == "daily" else None
        if row is not None and row.volume <= 0:
            # A halted stock (zero-volume row): no trades all day.
            flat = (base, base, base, base, 0)
            return DayPath(
                inst.code, day, base, price_limits(base, inst.market, day), base, 0,
                [flat] * N_MINUTES, base, 0,
            )  # fmt: skip
        if row is not None:
            ohlcv = (row.open, row.high, row.low, row.close, row.volume)
        else:
            ohlcv = synthetic_daily(inst, base, day, self.seed)
        return path_from_daily(inst.code, inst.market, day, base, ohlcv, self.seed)

    def _setup_day(self, day: dt.date, bases: dict[str, int]) -> None:
        self.day = day
        self.stocks = {}
        self.conditions.reset()
        self._heap = []
        self.order_counters = {}
        self.fill_counter = 0
        for code, inst in sorted(self.instruments_by_code.items()):
            base = bases.get(code, inst.prev_close)
            if self.config.pricing == "daily":
                row = self._daily_rows.get(day, {}).get(code)
                if row is not None:
                    base = row.prev_close
            path = self._make_path(inst, day, base)
            prev = self._daily_before(code, day)
            day_volume = path.ohlcv()[4]
            st = StockDay(
                inst=inst,
                path=path,
                rng=rng_for(self.seed, code, day.isoformat(), "ticks"),
                avg_minute_volume=max(1, day_volume // N_MINUTES),
                base=base,
                limits=path.limits,
                prev_volume=prev.volume,
                prev_value=prev.value,
            )
            st.static_ref = base
            self._set_touch(st, base, None)
            self.stocks[code] = st
        if not self.days.is_trading_day(day):
            self._push(_at(self.days.next(day), T_ROLL), 0, "roll", None)
            return
        self._push(_at(day, T_PRE_OPEN), 0, "phase", SessionPhase.OPENING_AUCTION)
        self._push(_at(day, T_OPEN), 0, "phase", SessionPhase.CONTINUOUS)
        self._push(_at(day, T_OPEN), 1, "open_auction", None)
        self._push(_at(day, T_OPEN), 2, "minute", 0)
        self._push(_at(day, T_OPEN) + CHECK_EVERY, 5, "check", None)
        self._push(_at(day, T_CLOSING_AUCTION), 0, "phase", SessionPhase.CLOSING_AUCTION)
        self._push(_at(day, T_CLOSE), 1, "close_auction", None)
        self._push(_at(day, T_CLOSE), 2, "phase", SessionPhase.CLOSED)
        self._push(_at(day, T_CLOSE), 3, "expire", None)
        self._push(_at(self.days.next(day), T_ROLL), 0, "roll", None)

    def _push(self, when: dt.datetime, prio: int, kind: str, payload: Any) -> None:
        heapq.heappush(self._heap, (when, prio, next(self._hseq), kind, payload))

    def _catch_up(self, to: dt.datetime) -> None:
        """Replay the market up to `to` without keeping its events (start-up and restore)."""
        self.advance(to)
        self.outbox = []

    # ================================================================== time
    @property
    def phase(self) -> SessionPhase:
        if self.now.date() != self.day or not self.days.is_trading_day(self.day):
            return SessionPhase.CLOSED
        # The simulator trades the regular market on the ordinary schedule (no late opens).
        return regular_phase(regular_session(self.day).phase_at(self.now))

    def advance(self, to: dt.datetime) -> list[Event]:
        to = to.astimezone(KST)
        events, self.outbox = self.outbox, []
        while self._heap and self._heap[0][0] <= to:
            when, _prio, _n, kind, payload = heapq.heappop(self._heap)
            self.now = max(self.now, when)
            if kind == "tick":
                self._on_trade(self.stocks[payload[0]], when, payload[1], payload[2], events)
            elif kind == "minute":
                self._on_minute(payload, when)
            elif kind == "check":
                self._on_check(when, events)
            elif kind == "phase":
                self._on_phase(payload, when, events)
            elif kind == "open_auction":
                self._on_auction(when, events, opening=True)
            elif kind == "close_auction":
                self._on_auction(when, events, opening=False)
            elif kind == "vi_release":
                self._on_vi_release(self.stocks[payload], when, events)
            elif kind == "expire":
                self._expire_all(when, events)
            elif kind == "roll":
                self._roll(to)
            events.extend(self.outbox)
            self.outbox = []
        if to > self.now:
            self.now = to
        return events

    def _roll(self, to: dt.datetime) -> None:
        """Start the next trading day; whole days the caller jumped over are fast-forwarded."""
        while True:
            self._record_day()
            bases = {c: st.price or st.base for c, st in self.stocks.items()}
            for acct in self.accounts.values():
                acct.new_day()
            self.order_index = {a: {} for a in self.order_index}
            self.fill_log = {a: [] for a in self.fill_log}
            self.working = {}
            self._sorted.clear()
            nxt = self.days.next(self.day)
            self.now = max(self.now, _at(nxt, T_ROLL))
            self._setup_day(nxt, bases)
            if to < _at(self.days.next(nxt), T_ROLL):
                return
            self._fast_forward_day()

    def _fast_forward_day(self) -> None:
        """Finish the current day at once from the paths (no ticks, no events): used for days
        nobody watched (the caller jumped over them, or the exchange started after the close)."""
        for st in self.stocks.values():
            bars = {m: b for m, b in _path_bars(st.path).items() if b[4] > 0}
            st.bars = bars
            o, h, lo, c, v = st.path.ohlcv()
            st.open, st.high, st.low, st.price, st.volume = o, h, lo, c, v
            st.value = sum(b[5] for b in bars.values())
            st.buy_volume = v // 2
            st.sell_volume = v - st.buy_volume
            st.open_time = _at(self.day, T_OPEN)
            self._set_touch(st, c, None)
        self._heap = [item for item in self._heap if item[3] == "roll"]
        heapq.heapify(self._heap)

    def _record_day(self) -> None:
        for code, st in self.stocks.items():
            if st.volume <= 0:
                continue
            self._minute_archive[(code, self.day)] = st.bars
            while len(self._minute_archive) > 40 * len(self.stocks):
                del self._minute_archive[next(iter(self._minute_archive))]
            self.recorded.setdefault(code, {})[self.day] = DailyBar(
                code, self.day, st.open, st.high, st.low, st.price, st.volume, st.value, st.base,
                _pct(st.volume, st.inst.listed_shares),
            )  # fmt: skip

    # ================================================================== market events
    def _on_phase(self, phase: SessionPhase, when: dt.datetime, events: list[Event]) -> None:
        code = {
            SessionPhase.OPENING_AUCTION: "0",
            SessionPhase.CONTINUOUS: "3",
            SessionPhase.CLOSING_AUCTION: "2",
            SessionPhase.CLOSED: "4",
        }[phase]
        events.append(PhaseEvent(when, phase, code, self.day))
        if phase is SessionPhase.CLOSING_AUCTION:
            for orders in self.working.values():
                for o in orders:
                    if o.order_type is OrderType.CONDITIONAL_LIMIT:
                        o.order_type = OrderType.MARKET
                        o.price = 0
            self._sorted.clear()

    def _on_minute(self, m: int, when: dt.datetime) -> None:
        for code, st in self.stocks.items():
            for offset, price, vol in minute_ticks(st.rng, st.path.bars[m], st.avg_minute_volume):
                # Ticks at the very first millisecond of 09:00 would race the opening match.
                t = when + dt.timedelta(milliseconds=max(offset, 1))
                self._push(t, 3, "tick", (code, price, vol))
        if m + 1 < N_MINUTES:
            self._push(when + dt.timedelta(minutes=1), 2, "minute", m + 1)

    def _set_touch(self, st: StockDay, price: int, side: Side | None) -> None:
        mkt, day = st.inst.market, self.day
        lower, upper = st.limits
        if side is Side.SELL:
            st.best_bid, st.best_ask = price, step_ticks(price, 1, mkt, day)
        else:
            st.best_ask, st.best_bid = price, step_ticks(price, -1, mkt, day)
        if side is None:
            st.best_ask = step_ticks(price, 1, mkt, day)
            st.best_bid = price
        st.best_ask = min(st.best_ask, upper)
        st.best_bid = max(st.best_bid, lower)

    def _on_trade(
        self, st: StockDay, when: dt.datetime, price: int, vol: int, events: list[Event]
    ) -> None:
        if st.vi_until is not None:
            st.vi_volume += vol
            st.vi_price = price
            return
        last = st.last
        kind = vi_trigger(price, st.static_ref, last, kospi200=st.inst.kospi200)
        if kind is not None and st.price:
            self._trigger_vi(st, when, price, vol, kind, events)
            return
        if price > last:
            side = Side.BUY
        elif price < last:
            side = Side.SELL
        else:
            side = Side.BUY if st.rng.random() < 0.5 else Side.SELL
        self._print(st, when, price, vol, side, False, SessionPhase.CONTINUOUS, events)

    def _trigger_vi(
        self,
        st: StockDay,
        when: dt.datetime,
        price: int,
        vol: int,
        kind: str,
        events: list[Event],
    ) -> None:
        release = when + VI_DURATION
        if release >= _at(self.day, T_CLOSING_AUCTION):
            release = _at(self.day, T_CLOSING_AUCTION)
        st.vi_until = release
        st.vi_count += 1
        st.vi_volume, st.vi_price = vol, price
        st.vi_kind = kind
        events.append(self._vi_event(st, when, True, kind, price, release))
        self._push(release, 1, "vi_release", st.inst.code)

    def _vi_event(
        self,
        st: StockDay,
        when: dt.datetime,
        active: bool,
        kind: str,
        price: int,
        release: dt.datetime,
    ) -> ViEvent:
        return ViEvent(
            code=st.inst.code,
            name=st.inst.name,
            market=st.inst.market,
            time=when,
            active=active,
            kind=kind,
            trigger_price=price,
            static_ref=st.static_ref,
            dynamic_ref=st.last,
            static_gap_pct=_pct(price - st.static_ref, st.static_ref),
            dynamic_gap_pct=_pct(price - st.last, st.last),
            release_time=release,
            count=st.vi_count,
            up=price >= st.last,
            cum_volume=st.volume,
            cum_value=st.value,
        )

    def _on_vi_release(self, st: StockDay, when: dt.datetime, events: list[Event]) -> None:
        if st.vi_until is None:
            return
        price = min(max(st.vi_price, st.limits[0]), st.limits[1])
        vol = max(st.vi_volume, 1)
        st.vi_until = None
        events.append(self._vi_event(st, when, False, st.vi_kind, price, when))
        side = Side.BUY if price >= st.last else Side.SELL
        in_closing = when >= _at(self.day, T_CLOSING_AUCTION)
        if in_closing:
            # The VI ran into the closing auction: its volume joins the closing match.
            st.path.close_volume += vol
            return
        self._print(st, when, price, vol, side, True, SessionPhase.CONTINUOUS, events)
        st.static_ref = price

    def _on_auction(self, when: dt.datetime, events: list[Event], opening: bool) -> None:
        phase = SessionPhase.OPENING_AUCTION if opening else SessionPhase.CLOSING_AUCTION
        for st in self.stocks.values():
            if opening:
                price, vol = st.path.open_price, st.path.open_volume
            else:
                if st.vi_until is not None:
                    st.vi_until = None
                    events.append(self._vi_event(st, when, False, st.vi_kind, st.vi_price, when))
                price, vol = st.path.close_price, st.path.close_volume
            price = min(max(price, st.limits[0]), st.limits[1])
            if vol <= 0:
                continue
            side = Side.BUY if price >= st.last else Side.SELL
            self._print(st, when, price, vol, side, True, phase, events)
            if opening:
                st.static_ref = price

    # ================================================================== the tape
    def _print(
        self,
        st: StockDay,
        when: dt.datetime,
        price: int,
        vol: int,
        side: Side,
        auction: bool,
        phase: SessionPhase,
        events: list[Event],
    ) -> None:
        if not st.open:
            st.open = st.high = st.low = price
            st.open_time = st.high_time = st.low_time = when
        if price > st.high:
            st.high, st.high_time = price, when
        if price < st.low:
            st.low, st.low_time = price, when
        if price >= st.limits[1] and st.up_time is None:
            st.up_time = when
        if price <= st.limits[0] and st.down_time is None:
            st.down_time = when
        st.price = price
        st.volume += vol
        st.value += vol * price
        if side is Side.BUY:
            st.buy_volume += vol
            st.buy_count += 1
        else:
            st.sell_volume += vol
            st.sell_count += 1
        self._set_touch(st, price, side)
        st.consumed.clear()
        minute = self._minute_index(when)
        bar = st.bars.get(minute)
        if bar is None:
            st.bars[minute] = [price, price, price, price, vol, vol * price, st.volume]
        else:
            bar[1] = max(bar[1], price)
            bar[2] = min(bar[2], price)
            bar[3] = price
            bar[4] += vol
            bar[5] += vol * price
            bar[6] = st.volume
        base = st.base
        events.append(
            Tick(
                code=st.inst.code,
                time=when,
                price=price,
                change=price - base,
                change_rate_pct=_pct(price - base, base),
                sign=change_sign(price, base, st.limits),
                volume=vol,
                side=side,
                cum_volume=st.volume,
                cum_value=st.value,
                open=st.open,
                high=st.high,
                low=st.low,
                best_ask=st.best_ask,
                best_bid=st.best_bid,
                base_price=base,
                prev_volume=st.prev_volume,
                prev_volume_same_time=self._prev_same_time(st, when),
                turnover_pct=_pct(st.volume, st.inst.listed_shares),
                strength_pct=_strength(st),
                market_cap=price * st.inst.listed_shares,
                vwap=st.value // st.volume,
                buy_volume=st.buy_volume,
                sell_volume=st.sell_volume,
                buy_count=st.buy_count,
                sell_count=st.sell_count,
                open_time=st.open_time,
                high_time=st.high_time,
                low_time=st.low_time,
                upper_limit_time=st.up_time,
                lower_limit_time=st.down_time,
                auction=auction,
                phase=phase,
            )
        )
        if self.working.get(st.inst.code):
            self._match_print(st, when, price, vol, auction, events)

    def _minute_index(self, when: dt.datetime) -> int:
        if self._open_day != self.day:
            self._open_day, self._open_at = self.day, _at(self.day, T_OPEN)
        return int((when - self._open_at).total_seconds() // 60)

    def _prev_same_time(self, st: StockDay, when: dt.datetime) -> int:
        m = self._minute_index(when)
        if m < 0:
            return 0
        prof = cumulative_profile()
        share = prof[m] if m < N_MINUTES else 1.0
        return int(st.prev_volume * share)

    # ================================================================== matching
    def _match_print(
        self,
        st: StockDay,
        when: dt.datetime,
        price: int,
        vol: int,
        auction: bool,
        events: list[Event],
    ) -> None:
        liquidity = int(Decimal(vol) * self.participation)
        if liquidity <= 0:
            return
        code = st.inst.code
        book = self._sorted.get(code)
        if book is None:
            live = [o for o in self.working[code] if o.is_open]
            self.working[code] = live
            book = (
                sorted((o for o in live if o.side is Side.BUY), key=priority),
                sorted((o for o in live if o.side is Side.SELL), key=priority),
            )
            self._sorted[code] = book
        filled = False
        for side_orders in book:
            # Priority order is also eligibility order (market first, then by limit), so the
            # walk stops at the first order the print does not reach.
            for o in side_orders:
                if liquidity <= 0 or not eligible(o, price):
                    break
                if not o.is_open:
                    continue
                qty = min(o.remaining, liquidity)
                if auction:
                    fill_price = price
                elif o.order_type in MARKET_LIKE:
                    fill_price = slipped(
                        price, o.side, int(self.config.market_slippage_ticks), st.limits,
                        st.inst.market, self.day,
                    )  # fmt: skip
                else:
                    fill_price = o.price
                liquidity -= qty
                filled = True
                self._fill(o, qty, fill_price, when, events)
        if filled:
            self.working[code] = [o for o in self.working[code] if o.is_open]
            self._sorted.pop(code, None)

    def _book_levels(self, st: StockDay, side: Side) -> list[tuple[int, int]]:
        """The synthesised levels a `side` taker meets now (fixed within a minute)."""
        minute = self._minute_index(self.now)
        rng = rng_for(self.seed, st.inst.code, self.day.isoformat(), minute, side.value, "book")
        touch = st.best_ask if side is Side.BUY else st.best_bid
        depth = max(1, st.avg_minute_volume // 3)
        return synth_levels(touch, side, st.limits, depth, rng, st.inst.market, self.day)

    def _immediate(self, o: Order, st: StockDay, events: list[Event], dry_run: bool = False) -> int:
        """Fill a marketable order against the synthesised book; returns the quantity filled
        (or, with dry_run, the quantity that could be filled)."""
        slices = walk(self._book_levels(st, o.side), o, o.remaining, st.consumed)
        if not dry_run:
            for price, qty in slices:
                st.consumed[price] = st.consumed.get(price, 0) + qty
                self._fill(o, qty, price, self.now, events)
        return sum(q for _, q in slices)

    def _fill(self, o: Order, qty: int, price: int, when: dt.datetime, events: list[Event]) -> None:
        acct = self.accounts[o.account]
        st = self.stocks[o.code]
        res = acct.apply_fill(o, qty, price, self.day)
        o.remaining -= qty
        self.fill_counter += 1
        fill_no = f"{self.fill_counter:07d}"
        o.last_fill_no, o.last_fill_price, o.last_fill_qty = fill_no, price, qty
        o.status = OrderStatus.FILLED
        if o.remaining == 0:
            o.is_open = False
        acct.hold(o)
        self.fill_log.setdefault(o.account, []).append(
            Fill(
                account=o.account,
                fill_no=fill_no,
                order_no=o.order_no,
                orig_order_no=o.orig_order_no,
                code=o.code,
                name=o.name,
                side=o.side,
                order_type=o.order_type,
                order_qty=o.qty,
                order_price=o.price,
                qty=qty,
                price=price,
                time=when,
                commission=res.commission,
                tax=res.tax,
                remaining_qty=o.remaining,
            )
        )
        events.append(self._order_event(o, when, OrderStatus.FILLED, fill_no, price, qty))
        events.append(self._balance_event(acct, st, o.side, when))

    def _order_event(
        self,
        o: Order,
        when: dt.datetime,
        status: OrderStatus,
        fill_no: str = "",
        fill_price: int = 0,
        fill_qty: int = 0,
        reason: str = "",
    ) -> OrderEvent:
        st = self.stocks[o.code]
        return OrderEvent(
            account=o.account,
            time=when,
            status=status,
            order_no=o.order_no,
            orig_order_no=o.orig_order_no,
            base_order_no=o.base_order_no,
            code=o.code,
            name=o.name,
            side=o.side,
            action=o.action,
            order_type=o.order_type,
            order_qty=o.qty,
            order_price=o.price,
            remaining_qty=o.remaining,
            filled_qty=o.filled_qty,
            filled_value=o.filled_value,
            fill_no=fill_no,
            fill_price=fill_price,
            fill_qty=fill_qty,
            commission=o.commission,
            tax=o.tax,
            reject_reason=reason,
            price=st.last,
            best_ask=st.best_ask,
            best_bid=st.best_bid,
        )

    def _balance_event(
        self, acct: Account, st: StockDay, side: Side, when: dt.datetime
    ) -> BalanceEvent:
        pos = acct.position(st.inst.code)
        return BalanceEvent(
            account=acct.number,
            time=when,
            code=st.inst.code,
            name=st.inst.name,
            qty=pos.qty,
            avg_price=_avg(pos.cost, pos.qty),
            cost=pos.cost,
            orderable_qty=pos.qty - pos.sell_held,
            today_net_buy_qty=pos.today_buy_qty - pos.today_sell_qty,
            side=side,
            today_realized_pnl=pos.today_realized,
            realized_pnl_rate_pct=_pct(pos.today_realized, pos.today_sell_cost),
            price=st.last,
            best_ask=st.best_ask,
            best_bid=st.best_bid,
            base_price=st.base,
            deposit=acct.cash,
            orderable_cash=acct.orderable_cash,
        )

    def _expire_all(self, when: dt.datetime, events: list[Event]) -> None:
        for orders in self.working.values():
            for o in orders:
                if o.is_open:
                    self._cancel_remainder(o, o.remaining, when, events)
        self.working = {}
        self._sorted.clear()

    def _cancel_remainder(self, o: Order, qty: int, when: dt.datetime, events: list[Event]) -> None:
        o.remaining -= qty
        o.cancelled_qty += qty
        if o.remaining == 0:
            o.is_open = False
            o.status = OrderStatus.CANCELLED
        self.accounts[o.account].hold(o)
        events.append(self._order_event(o, when, OrderStatus.CANCELLED))

    # ================================================================== conditions
    def _fields(self, names: frozenset[str] | None = None) -> dict[str, dict[str, float]]:
        """Per-stock condition fields (only `names`, default: those the conditions read)."""
        wanted = [(n, _FIELD_FUNCS[n]) for n in sorted(names or self.conditions.needed)]
        ctx: dict[str, Any] = {"minutes": max(0, self._minute_index(self.now)), "eng": self}
        if any(n == "value_rank" for n, _ in wanted):
            ranked = sorted(self.stocks.values(), key=lambda s: (-s.value, s.inst.code))
            ctx["ranks"] = {s.inst.code: i + 1 for i, s in enumerate(ranked)}
        return {code: {n: fn(st, ctx) for n, fn in wanted} for code, st in self.stocks.items()}

    def _on_check(self, when: dt.datetime, events: list[Event]) -> None:
        for seq, code, kind in self.conditions.evaluate(self._fields()):
            events.append(ConditionEvent(seq, code, kind, when))
        nxt = when + CHECK_EVERY
        if nxt <= _at(self.day, T_CLOSE):
            self._push(nxt, 5, "check", None)

    def condition_members(self, seq: str) -> list[str]:
        if seq not in self.conditions.conditions:
            raise _reject("1999", f"조건식이 존재하지 않습니다. seq={seq}")
        if not self.conditions.evaluated:
            cond = self.conditions.conditions[seq]
            return sorted(c for c, f in self._fields().items() if cond.matches(f))
        return sorted(self.conditions.members[seq])

    # ================================================================== accounts / orders
    def open_account(self, account: str, cash: int | None) -> None:
        if account in self.accounts:
            return
        start = self.config.start_cash if cash is None else cash
        self.accounts[account] = Account(account, start, start, self.rate)
        self.order_index.setdefault(account, {})
        self.fill_log.setdefault(account, [])

    def account_numbers(self) -> list[str]:
        return sorted(self.accounts)

    def _account(self, account: str) -> Account:
        acct = self.accounts.get(account)
        if acct is None:
            raise _reject("RC4001", f"계좌번호를 확인하세요. 계좌번호={account}")
        return acct

    def _stock(self, code: str) -> StockDay:
        code = code.strip().removeprefix("A")
        st = self.stocks.get(code)
        if st is None:
            raise _reject(
                "1902", f"종목 정보가 없습니다. 입력한 종목코드 값을 확인바랍니다. 종목코드={code}"
            )
        return st

    def _check_open(self) -> None:
        if not self.days.is_trading_day(self.now.date()):
            raise _reject("571489", "장이 열리지 않는 날입니다.")
        if self.phase is SessionPhase.CLOSED:
            # The mock host answers RC4058 after hours; the same text is used before 08:30
            # (the pre-open text was not found in any source).
            raise _reject("RC4058", "모의투자 장종료")

    def _next_order_no(self, account: str) -> str:
        n = self.order_counters.get(account, 0) + 1
        self.order_counters[account] = n
        return f"{n:07d}"

    def _check_price(self, st: StockDay, price: int) -> None:
        mkt = st.inst.market
        if price <= 0 or not is_on_tick(price, mkt, self.day):
            # Exact Kiwoom text for off-tick prices was not found (PROTOCOL.md §11).
            raise _reject(
                "RC4021",
                f"주문가격이 호가단위에 맞지 않습니다. 호가단위={tick_size(max(price, 1), mkt, self.day)}원",
            )
        lower, upper = st.limits
        if price > upper:
            raise _reject("RC4016", f"주문가격이 상한가({upper}원)를 초과합니다.")
        if price < lower:
            raise _reject("RC4017", f"주문가격이 하한가({lower}원) 미만입니다.")

    def place_order(
        self, account: str, side: Side, code: str, qty: int, price: int, order_type: OrderType
    ) -> OrderAck:
        acct = self._account(account)
        st = self._stock(code)
        if qty <= 0:
            raise _reject("RC4025", "주문수량을 확인하세요.")
        self._check_open()
        phase = self.phase
        auction = phase is not SessionPhase.CONTINUOUS or st.vi_until is not None
        if auction and order_type in CONTINUOUS_ONLY:
            raise _reject("RC4030", "단일가매매 시간에는 해당 매매구분으로 주문할 수 없습니다.")
        if order_type is OrderType.BEST_LIMIT:
            price = st.best_ask if side is Side.BUY else st.best_bid
        elif order_type is OrderType.PRIORITY_LIMIT:
            price = st.best_bid if side is Side.BUY else st.best_ask
        if order_type in MARKET_LIKE:
            price = 0
        else:
            self._check_price(st, price)
        if order_type is OrderType.CONDITIONAL_LIMIT and phase is SessionPhase.CLOSING_AUCTION:
            order_type, price = OrderType.MARKET, 0
        hold_price = price or st.limits[1]
        if side is Side.BUY:
            if acct.buy_hold(qty, hold_price) > acct.orderable_cash:
                n = acct.max_buy_qty(hold_price)
                raise _reject("855056", f"매수증거금이 부족합니다. {n}주 매수가능")
        elif acct.sellable_qty(st.inst.code) < qty:
            n = max(acct.sellable_qty(st.inst.code), 0)
            # Text modelled on the mock host's wording; the exact code was not found.
            raise _reject("800033", f"모의투자 매도가능수량이 부족합니다. {n}주 매도가능")
        order_no = self._next_order_no(account)
        o = Order(
            account=account, order_no=order_no, orig_order_no=None, base_order_no=order_no,
            code=st.inst.code, name=st.inst.name, market=st.inst.market, side=side,
            action=OrderAction.NEW, order_type=order_type, qty=qty, price=price, time=self.now,
            seq=next(self.order_seq), remaining=qty, hold_price=hold_price,
        )  # fmt: skip
        self._accept(acct, o, st, auction)
        return self._ack(o, qty)

    def _accept(self, acct: Account, o: Order, st: StockDay, auction: bool) -> None:
        self.order_index.setdefault(o.account, {})[o.order_no] = o
        acct.hold(o)
        self.outbox.append(self._order_event(o, self.now, OrderStatus.ACCEPTED))
        if not auction:
            if o.order_type in FOK_LIKE and self._immediate(o, st, [], dry_run=True) < o.remaining:
                self._cancel_remainder(o, o.remaining, self.now, self.outbox)
                return
            self._immediate(o, st, self.outbox)
            if o.is_open and o.order_type in IOC_LIKE | FOK_LIKE:
                self._cancel_remainder(o, o.remaining, self.now, self.outbox)
        if o.is_open:
            self.working.setdefault(o.code, []).append(o)
            self._sorted.pop(o.code, None)

    def _ack(self, o: Order, qty: int) -> OrderAck:
        return OrderAck(
            account=o.account, order_no=o.order_no, orig_order_no=o.orig_order_no,
            base_order_no=o.base_order_no, code=o.code, side=o.side, action=o.action, qty=qty,
            price=o.price, order_type=o.order_type, time=self.now,
        )  # fmt: skip

    def _target(self, account: str, orig_order_no: str, code: str) -> Order:
        o = self.order_index.get(account, {}).get(orig_order_no.strip().zfill(7))
        if o is None or o.code != code.strip().removeprefix("A"):
            raise _reject("RC4031", f"원주문번호를 확인하세요. 원주문번호={orig_order_no}")
        if not o.is_open or o.remaining <= 0:
            raise _reject("RC4032", "정정/취소할 수 있는 미체결 수량이 없습니다.")
        return o

    def amend_order(
        self, account: str, orig_order_no: str, code: str, qty: int, price: int
    ) -> OrderAck:
        acct = self._account(account)
        self._check_open()
        o = self._target(account, orig_order_no, code)
        st = self.stocks[o.code]
        if qty < 0 or qty > o.remaining:
            raise _reject("RC4033", f"정정수량이 미체결수량({o.remaining}주)을 초과합니다.")
        qty = qty or o.remaining
        self._check_price(st, price)
        if o.side is Side.BUY:
            extra = acct.buy_hold(qty, price) - acct.buy_hold(qty, o.hold_price)
            if extra > acct.orderable_cash:
                n = acct.max_buy_qty(price)
                raise _reject("855056", f"매수증거금이 부족합니다. {n}주 매수가능")
        # Take the amended part off the original, then book it as a new order.
        o.remaining -= qty
        if o.remaining == 0:
            o.is_open = False
            o.status = OrderStatus.CONFIRMED
        acct.hold(o)
        order_type = OrderType.LIMIT if o.order_type in MARKET_LIKE else o.order_type
        new = Order(
            account=account, order_no=self._next_order_no(account), orig_order_no=o.order_no,
            base_order_no=o.base_order_no, code=o.code, name=o.name, market=o.market, side=o.side,
            action=OrderAction.AMEND, order_type=order_type, qty=qty, price=price, time=self.now,
            seq=next(self.order_seq), remaining=qty, hold_price=price,
        )  # fmt: skip
        self.working[o.code] = [w for w in self.working.get(o.code, []) if w.is_open]
        self._sorted.pop(o.code, None)
        auction = self.phase is not SessionPhase.CONTINUOUS or st.vi_until is not None
        self.order_index[account][new.order_no] = new
        acct.hold(new)
        self.outbox.append(self._order_event(new, self.now, OrderStatus.ACCEPTED))
        self.outbox.append(self._order_event(new, self.now, OrderStatus.CONFIRMED))
        if not auction:
            self._immediate(new, st, self.outbox)
        if new.is_open:
            self.working.setdefault(new.code, []).append(new)
            self._sorted.pop(new.code, None)
        return self._ack(new, qty)

    def cancel_order(self, account: str, orig_order_no: str, code: str, qty: int) -> OrderAck:
        acct = self._account(account)
        self._check_open()
        o = self._target(account, orig_order_no, code)
        if qty < 0 or qty > o.remaining:
            raise _reject("RC4034", f"취소수량이 미체결수량({o.remaining}주)을 초과합니다.")
        qty = qty or o.remaining
        o.remaining -= qty
        o.cancelled_qty += qty
        if o.remaining == 0:
            o.is_open = False
            o.status = OrderStatus.CANCELLED
        acct.hold(o)
        self.working[o.code] = [w for w in self.working.get(o.code, []) if w.is_open]
        self._sorted.pop(o.code, None)
        rec = Order(
            account=account, order_no=self._next_order_no(account), orig_order_no=o.order_no,
            base_order_no=o.base_order_no, code=o.code, name=o.name, market=o.market, side=o.side,
            action=OrderAction.CANCEL, order_type=o.order_type, qty=qty, price=o.price,
            time=self.now, seq=next(self.order_seq), remaining=0, is_open=False,
            status=OrderStatus.CONFIRMED, cancelled_qty=qty,
        )  # fmt: skip
        self.order_index[account][rec.order_no] = rec
        self.outbox.append(self._order_event(rec, self.now, OrderStatus.ACCEPTED))
        self.outbox.append(self._order_event(rec, self.now, OrderStatus.CONFIRMED))
        return self._ack(rec, qty)

    # ------------------------------------------------------------------ account reads
    def _view(self, o: Order) -> OrderView:
        return OrderView(
            account=o.account, order_no=o.order_no, orig_order_no=o.orig_order_no,
            base_order_no=o.base_order_no, code=o.code, name=o.name, side=o.side, action=o.action,
            order_type=o.order_type, qty=o.qty, price=o.price, filled_qty=o.filled_qty,
            filled_value=o.filled_value, remaining_qty=o.remaining, status=o.status,
            is_open=o.is_open, time=o.time, last_fill_no=o.last_fill_no,
            last_fill_price=o.last_fill_price, last_fill_qty=o.last_fill_qty,
            commission=o.commission, tax=o.tax, cancelled_qty=o.cancelled_qty,
        )  # fmt: skip

    def orders_of(self, account: str, code: str | None) -> list[Order]:
        self._account(account)
        out = [
            o for o in self.order_index.get(account, {}).values() if code is None or o.code == code
        ]
        return sorted(out, key=lambda o: o.order_no, reverse=True)

    def open_orders(self, account: str, code: str | None) -> list[OrderView]:
        return [self._view(o) for o in self.orders_of(account, code) if o.is_open]

    def orders(self, account: str, code: str | None) -> list[OrderView]:
        return [self._view(o) for o in self.orders_of(account, code)]

    def order(self, account: str, order_no: str) -> OrderView:
        o = self.order_index.get(account, {}).get(order_no.strip().zfill(7))
        if o is None:
            raise _reject("RC4031", f"주문번호를 확인하세요. 주문번호={order_no}")
        return self._view(o)

    def fills(self, account: str, code: str | None) -> list[Fill]:
        self._account(account)
        out = [f for f in self.fill_log.get(account, []) if code is None or f.code == code]
        return list(reversed(out))

    def cash(self, account: str) -> CashInfo:
        a = self._account(account)
        return CashInfo(
            deposit=a.cash, held_for_orders=a.held_cash, orderable=a.orderable_cash,
            withdrawable=a.orderable_cash, d1_deposit=a.cash, d2_deposit=a.cash,
            commission_today=a.commission_today, tax_today=a.tax_today,
            starting_cash=a.starting_cash,
        )  # fmt: skip

    def holdings(self, account: str) -> list[Holding]:
        a = self._account(account)
        out = []
        for code, pos in sorted(a.positions.items()):
            if pos.qty <= 0:
                continue
            st = self.stocks.get(code)
            price = st.last if st else 0
            inst = self.instruments_by_code[code]
            eval_amount = pos.qty * price
            out.append(
                Holding(
                    code=code, name=inst.name, qty=pos.qty, orderable_qty=pos.qty - pos.sell_held,
                    avg_price=_avg(pos.cost, pos.qty), cost=pos.cost,
                    buy_commission=pos.buy_commission, price=price,
                    base_price=st.base if st else price, eval_amount=eval_amount,
                    eval_pnl=eval_amount - pos.cost, pnl_rate_pct=_pct(eval_amount - pos.cost, pos.cost),
                    est_sell_commission=calc_commission(eval_amount, self.rate),
                    est_sell_tax=sell_tax(eval_amount, self.day, inst.market),
                    today_buy_qty=pos.today_buy_qty, today_sell_qty=pos.today_sell_qty,
                    today_realized_pnl=pos.today_realized, realized_pnl=pos.realized,
                    last_side=Side(pos.last_side) if pos.last_side else None,
                )
            )  # fmt: skip
        return out

    def summary(self, account: str) -> AccountSummary:
        a = self._account(account)
        hs = self.holdings(account)
        cost = sum(h.cost for h in hs)
        ev = sum(h.eval_amount for h in hs)
        return AccountSummary(
            account=account, deposit=a.cash, total_cost=cost, total_eval=ev,
            total_eval_pnl=ev - cost, total_pnl_rate_pct=_pct(ev - cost, cost),
            estimated_assets=a.cash + ev, realized_pnl=a.realized_total,
            today_realized_pnl=sum(p.today_realized for p in a.positions.values()),
            starting_cash=a.starting_cash, commission_total=a.commission_total,
            tax_total=a.tax_total,
        )  # fmt: skip

    def orderable_qty(self, account: str, side: Side, code: str, price: int) -> int:
        a = self._account(account)
        st = self._stock(code)
        if side is Side.SELL:
            return max(a.sellable_qty(st.inst.code), 0)
        return a.max_buy_qty(price or st.limits[1])

    # ================================================================== market reads
    def instruments(self, market: Market | None) -> list[Instrument]:
        out = []
        for code, inst in sorted(self.instruments_by_code.items()):
            if market is None or inst.market is market:
                st = self.stocks.get(code)
                base = st.base if st else inst.prev_close
                out.append(_replace_prev(inst, base))
        return out

    def instrument(self, code: str) -> Instrument:
        st = self._stock(code)
        return _replace_prev(st.inst, st.base)

    def quote(self, code: str) -> Quote:
        st = self._stock(code)
        (hi_p, hi_d), (lo_p, lo_d), year_hi, year_lo = self._past_extremes(st.inst.code)
        if st.open:
            if st.high >= hi_p:
                hi_p, hi_d = st.high, self.day
            if st.low <= lo_p:
                lo_p, lo_d = st.low, self.day
            year_hi, year_lo = max(year_hi, st.high), min(year_lo, st.low)
        price = st.last
        if not hi_p:
            hi_p, hi_d = price, self.day
        if lo_p >= 10**12:
            lo_p, lo_d = price, self.day
        year_hi = year_hi or price
        year_lo = price if year_lo >= 10**12 else year_lo
        hi = (hi_p, hi_d)
        lo = (lo_p, lo_d)
        auction_now = self.phase in (SessionPhase.OPENING_AUCTION, SessionPhase.CLOSING_AUCTION)
        exp_price = 0
        if self.phase is SessionPhase.OPENING_AUCTION:
            exp_price = st.path.open_price
        elif self.phase is SessionPhase.CLOSING_AUCTION:
            exp_price = st.path.close_price
        elif st.vi_until is not None:
            exp_price = st.vi_price
        return Quote(
            code=st.inst.code, name=st.inst.name, market=st.inst.market, time=self.now,
            phase=self.phase, base_price=st.base, price=price, change=price - st.base,
            change_rate_pct=_pct(price - st.base, st.base),
            sign=change_sign(price, st.base, st.limits), open=st.open, high=st.high, low=st.low,
            upper_limit=st.limits[1], lower_limit=st.limits[0], volume=st.volume, value=st.value,
            best_ask=st.best_ask, best_bid=st.best_bid, prev_volume=st.prev_volume,
            prev_value=st.prev_value, listed_shares=st.inst.listed_shares,
            market_cap=price * st.inst.listed_shares, vwap=st.value // st.volume if st.volume else price,
            high_250d=hi[0], low_250d=lo[0], high_250d_date=hi[1], low_250d_date=lo[1],
            year_high=year_hi, year_low=year_lo, expected_price=exp_price,
            expected_qty=(st.path.open_volume if self.phase is SessionPhase.OPENING_AUCTION else st.path.close_volume) if auction_now else 0,
            vi_active=st.vi_until is not None, face_value=st.inst.face_value,
        )  # fmt: skip

    def _past_extremes(
        self, code: str
    ) -> tuple[tuple[int, dt.date], tuple[int, dt.date], int, int]:
        """(250-day high, 250-day low, year high, year low) of the days before today; cached for
        the day because history does not change intraday."""
        key = (code, self.day)
        cached = self._extremes.get(key)
        if cached is not None:
            return cached
        hist = self._history(code, 250)[:250]
        rec = sorted(self.recorded.get(code, {}).values(), key=lambda b: b.date, reverse=True)
        window = [b for b in (rec + hist) if b.date < self.day][:249]
        hi = max(((b.high, b.date) for b in window), default=(0, self.day))
        lo = min(((b.low, -b.date.toordinal()) for b in window), default=(10**12, 0))
        lo_day = dt.date.fromordinal(-lo[1]) if window else self.day
        year = [b for b in window if b.date.year == self.day.year]
        year_hi = max((b.high for b in year), default=0)
        year_lo = min((b.low for b in year), default=10**12)
        result = (hi, (lo[0], lo_day), year_hi, year_lo)
        self._extremes[key] = result
        return result

    def order_book(self, code: str) -> OrderBook:
        st = self._stock(code)
        asks = self._book_levels(st, Side.BUY)
        bids = self._book_levels(st, Side.SELL)
        prev = st.last_book
        ask_levels = tuple(BookLevel(p, q, q - prev.get(p, q)) for p, q in asks)
        bid_levels = tuple(BookLevel(p, q, q - prev.get(-p, q)) for p, q in bids)
        total_ask = sum(q for _, q in asks)
        total_bid = sum(q for _, q in bids)
        new_book = dict(asks) | {-p: q for p, q in bids}
        prev_ta, prev_tb = prev.get(0, total_ask), prev.get(1, total_bid)
        new_book[0], new_book[1] = total_ask, total_bid
        st.last_book = new_book
        q = self.quote(code)
        return OrderBook(
            code=st.inst.code, time=self.now, asks=ask_levels, bids=bid_levels,
            total_ask_qty=total_ask, total_bid_qty=total_bid,
            total_ask_change=total_ask - prev_ta, total_bid_change=total_bid - prev_tb,
            expected_price=q.expected_price, expected_qty=q.expected_qty,
        )  # fmt: skip

    def _day_minute_bars(self, code: str, day: dt.date) -> list[Bar]:
        """1-minute bars of a day, oldest first."""
        if day == self.day:
            st = self.stocks[code]
            items = sorted(st.bars.items())
            base = st.base
        else:
            bar = self.recorded.get(code, {}).get(day)
            if bar is None:
                hist = self._history(code, 1)
                i = 0
                while hist[i].date > day:
                    i += 1
                    hist = self._history(code, i + 1)
                bar = hist[i]
                if bar.date != day:
                    return []
            archived = self._minute_archive.get((code, day))
            if archived is not None:
                items = sorted(archived.items())
            else:
                inst = self.instruments_by_code[code]
                path = path_from_daily(
                    code, inst.market, day, bar.prev_close,
                    (bar.open, bar.high, bar.low, bar.close, bar.volume), self.seed, "hist",
                )  # fmt: skip
                items = sorted(_path_bars(path).items())
            base = bar.prev_close
        open_at = _at(day, T_OPEN)
        return [
            Bar(
                code,
                open_at + dt.timedelta(minutes=m),
                1,
                b[0],
                b[1],
                b[2],
                b[3],
                b[4],
                b[5],
                b[6],
                base,
            )
            for m, b in items
            if b[4] > 0
        ]

    def minute_bars(
        self, code: str, minutes: int, before: dt.datetime | None, limit: int
    ) -> list[Bar]:
        st = self._stock(code)
        code = st.inst.code
        before = (before or (self.now + dt.timedelta(minutes=1))).astimezone(KST)
        out: list[Bar] = []
        day = min(before.date(), self.day)
        oldest = self.days.previous(self.day - dt.timedelta(days=365))
        while len(out) < limit and day > oldest:
            if self.days.is_trading_day(day):
                bars = self._aggregate(self._day_minute_bars(code, day), minutes)
                out.extend(b for b in reversed(bars) if b.time < before)
            day = self.days.previous(day)
        return out[:limit]

    @staticmethod
    def _aggregate(bars: list[Bar], minutes: int) -> list[Bar]:
        if minutes <= 1 or not bars:
            return bars
        open_at = bars[0].time.replace(hour=9, minute=0, second=0, microsecond=0)
        groups: dict[int, list[Bar]] = {}
        for b in bars:
            idx = int((b.time - open_at).total_seconds() // 60) // minutes
            groups.setdefault(idx, []).append(b)
        out = []
        for idx, g in sorted(groups.items()):
            out.append(
                Bar(
                    g[0].code, open_at + dt.timedelta(minutes=idx * minutes), minutes, g[0].open,
                    max(b.high for b in g), min(b.low for b in g), g[-1].close,
                    sum(b.volume for b in g), sum(b.value for b in g), g[-1].cum_volume,
                    g[0].prev_close,
                )
            )  # fmt: skip
        return out

    def daily_bars(self, code: str, end: dt.date | None, limit: int) -> list[DailyBar]:
        st = self._stock(code)
        code = st.inst.code
        end = end or self.day
        out: list[DailyBar] = []
        if end >= self.day and st.volume > 0:
            out.append(
                DailyBar(code, self.day, st.open, st.high, st.low, st.price, st.volume, st.value,
                         st.base, _pct(st.volume, st.inst.listed_shares))
            )  # fmt: skip
        rec = sorted(
            (b for d, b in self.recorded.get(code, {}).items() if d <= end and d != self.day),
            key=lambda b: b.date,
            reverse=True,
        )
        out.extend(rec)
        need = limit - len(out)
        if need > 0:
            depth = need
            while True:
                hist = [b for b in self._history(code, depth) if b.date <= end]
                if len(hist) >= need or depth > 20_000:
                    break
                depth += need
            out.extend(hist[:need])
        return out[:limit]

    def _stats(self, st: StockDay) -> StockStats:
        price = st.last
        asks = self._book_levels(st, Side.BUY)
        bids = self._book_levels(st, Side.SELL)
        return StockStats(
            code=st.inst.code, name=st.inst.name, market=st.inst.market, price=price,
            base_price=st.base, change=price - st.base, change_rate_pct=_pct(price - st.base, st.base),
            sign=change_sign(price, st.base, st.limits), best_ask=st.best_ask, best_bid=st.best_bid,
            volume=st.volume, value=st.value, prev_volume=st.prev_volume, prev_value=st.prev_value,
            prev_volume_same_time=self._prev_same_time(st, self.now),
            turnover_pct=_pct(st.volume, st.inst.listed_shares), buy_volume=st.buy_volume,
            sell_volume=st.sell_volume, trade_count=st.buy_count + st.sell_count,
            ask_qty_total=sum(q for _, q in asks), bid_qty_total=sum(q for _, q in bids),
        )  # fmt: skip

    def stats(self, market: Market | None) -> list[StockStats]:
        rows = [self._stats(st) for c, st in sorted(self.stocks.items())]
        ranked = sorted(rows, key=lambda r: (-r.prev_value, r.code))
        prev_rank = {r.code: i + 1 for i, r in enumerate(ranked)}
        rows = [_with_prev_rank(r, prev_rank[r.code]) for r in rows]
        return [r for r in rows if market is None or r.market is market]

    def rankings(self, kind: str, market: Market | None, limit: int) -> list[StockStats]:
        rows = self.stats(market)
        keys = {
            "value": lambda r: (-r.value, r.code),
            "volume": lambda r: (-r.volume, r.code),
            "change_up": lambda r: (-r.change_rate_pct, r.code),
            "change_down": lambda r: (r.change_rate_pct, r.code),
            "volume_surge": lambda r: (-(r.volume - r.prev_volume_same_time), r.code),
        }
        if kind not in keys:
            raise ValueError(f"unknown ranking {kind!r}")
        return sorted(rows, key=keys[kind])[:limit]

    def recent_volume(self, code: str, minutes: int) -> tuple[int, int]:
        st = self._stock(code)
        m = self._minute_index(self.now)
        recent = sum(st.bars.get(i, [0] * 7)[4] for i in range(m - minutes + 1, m + 1))
        before = sum(
            st.bars.get(i, [0] * 7)[4] for i in range(m - 2 * minutes + 1, m - minutes + 1)
        )
        return recent, before

    # ================================================================== persistence
    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "config": _config_json(self.config),
            "seed": self.seed,
            "pricing": self.config.pricing,
            "now": self.now.isoformat(),
            "day": self.day.isoformat(),
            "anchor_day": self.anchor_day.isoformat(),
            "anchor_base": dict(self.anchor_base),
            "bases": {c: st.base for c, st in self.stocks.items()},
            "recorded": {
                code: [
                    [
                        b.date.isoformat(),
                        b.open,
                        b.high,
                        b.low,
                        b.close,
                        b.volume,
                        b.value,
                        b.prev_close,
                    ]
                    for b in sorted(bars.values(), key=lambda b: b.date)
                ]
                for code, bars in self.recorded.items()
            },
            "accounts": {n: a.to_json() for n, a in self.accounts.items()},
            "orders": {a: [o.to_json() for o in os.values()] for a, os in self.order_index.items()},
            "fills": {
                a: [
                    [
                        f.fill_no,
                        f.order_no,
                        f.orig_order_no,
                        f.code,
                        f.side.value,
                        f.order_type.value,
                        f.order_qty,
                        f.order_price,
                        f.qty,
                        f.price,
                        f.time.isoformat(),
                        f.commission,
                        f.tax,
                        f.remaining_qty,
                    ]
                    for f in fs
                ]
                for a, fs in self.fill_log.items()
            },
            "order_counters": dict(self.order_counters),
            "fill_counter": self.fill_counter,
        }

    @classmethod
    def from_snapshot(cls, state: dict[str, Any], config: ExchangeConfig) -> Engine:
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported snapshot version {state.get('version')!r}")
        if int(state["seed"]) != int(config.seed) or state["pricing"] != config.pricing:
            raise ValueError("snapshot seed/pricing differ from the config")
        eng = cls(config, _state=state)
        # The market was replayed to `now` by the constructor; now put the accounts back.
        eng.accounts = {n: Account.from_json(a) for n, a in state["accounts"].items()}
        eng.order_index = {}
        eng.working = {}
        eng._sorted = {}
        max_seq = 0
        for acct, rows in state["orders"].items():
            eng.order_index[acct] = {}
            for row in rows:
                o = Order.from_json(row)
                eng.order_index[acct][o.order_no] = o
                max_seq = max(max_seq, o.seq)
                if o.is_open:
                    eng.working.setdefault(o.code, []).append(o)
        eng.order_seq = itertools.count(max_seq + 1)
        eng.fill_log = {}
        for acct, rows in state["fills"].items():
            fl = eng.fill_log.setdefault(acct, [])
            for r in rows:
                inst = eng.instruments_by_code[r[3]]
                fl.append(
                    Fill(acct, r[0], r[1], r[2], r[3], inst.name, Side(r[4]), OrderType(r[5]), r[6],
                         r[7], r[8], r[9], dt.datetime.fromisoformat(r[10]), r[11], r[12], r[13])
                )  # fmt: skip
        for acct in eng.accounts:
            eng.order_index.setdefault(acct, {})
            eng.fill_log.setdefault(acct, [])
        for account in config.accounts:
            eng.open_account(account, None)  # accounts added to the config since the snapshot
        eng.order_counters = dict(state["order_counters"])
        eng.fill_counter = int(state["fill_counter"])
        return eng


def _vwap(st: StockDay) -> float:
    return st.value / st.volume if st.volume else st.last


def _volume_ratio(st: StockDay, ctx: dict[str, Any]) -> float:
    same = ctx["eng"]._prev_same_time(st, ctx["eng"].now)
    return st.volume * 100 / same if same else 0.0


def _price_vs_vwap(st: StockDay) -> float:
    vwap = _vwap(st)
    return (st.last - vwap) * 100 / vwap if vwap else 0.0


# Condition fields (see conditions.py): (stock, context) -> value.
_FIELD_FUNCS: dict[str, Any] = {
    "price": lambda st, ctx: st.last,
    "base_price": lambda st, ctx: st.base,
    "open": lambda st, ctx: st.open,
    "high": lambda st, ctx: st.high,
    "low": lambda st, ctx: st.low,
    "volume": lambda st, ctx: st.volume,
    "prev_volume": lambda st, ctx: st.prev_volume,
    "change": lambda st, ctx: st.last - st.base,
    "change_rate": lambda st, ctx: (st.last - st.base) * 100 / st.base,
    "traded_value": lambda st, ctx: st.value,
    "traded_value_eok": lambda st, ctx: st.value / 1e8,
    "value_rank": lambda st, ctx: ctx["ranks"][st.inst.code],
    "volume_ratio_prev_day": _volume_ratio,
    "vwap": lambda st, ctx: _vwap(st),
    "price_vs_vwap": lambda st, ctx: _price_vs_vwap(st),
    "new_day_high": lambda st, ctx: bool(st.high and st.last >= st.high and st.high > st.open),
    "gap": lambda st, ctx: (st.open - st.base) * 100 / st.base if st.open else 0.0,
    "range_pct": lambda st, ctx: (st.high - st.low) * 100 / st.low if st.low else 0.0,
    "strength": lambda st, ctx: float(_strength(st)),
    "minutes_since_open": lambda st, ctx: ctx["minutes"],
    "market_cap_eok": lambda st, ctx: st.last * st.inst.listed_shares / 1e8,
    "kospi": lambda st, ctx: int(st.inst.market is Market.KOSPI),
    "kosdaq": lambda st, ctx: int(st.inst.market is Market.KOSDAQ),
    "kospi200": lambda st, ctx: int(st.inst.kospi200),
}


def _config_json(config: Any) -> dict[str, Any]:
    """The serialisable part of an ExchangeConfig (the clock and `extra` are not)."""

    def plain(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, tuple):
            return list(v)
        return v

    keys = (
        "seed", "pricing", "universe", "codes", "daily_path", "minute_path", "start_cash",
        "commission_rate", "participation", "market_slippage_ticks", "conditions_path",
        "use_krx_calendar",
    )  # fmt: skip
    return {k: plain(getattr(config, k, None)) for k in keys}


def _path_bars(path: DayPath) -> dict[int, list[int]]:
    """1-minute bars [o, h, l, c, volume, value, cum volume] straight from a path: the opening
    auction joins minute 0, the closing auction is minute 390 (15:30). Values are approximated
    with the bar's average price (used only for days that were not traded tick by tick)."""
    out: dict[int, list[int]] = {}
    cum = 0
    for m, (o, h, lo, c, v) in enumerate(path.bars):
        if m == 0:
            o, h, lo = path.open_price, max(h, path.open_price), min(lo, path.open_price)
            v += path.open_volume
        cum += v
        out[m] = [o, h, lo, c, v, v * (o + h + lo + c) // 4, cum]
    cum += path.close_volume
    c = path.close_price
    out[390] = [c, c, c, c, path.close_volume, path.close_volume * c, cum]
    return out


def _round_tick(price: float, market: Market, day: dt.date) -> int:
    from krx import tick_round

    return tick_round(max(1, round(price)), market, day, "nearest")


def _avg(cost: int, qty: int) -> int:
    return (2 * cost + qty) // (2 * qty) if qty else 0


def _strength(st: StockDay) -> Decimal:
    """체결강도: buy-initiated / sell-initiated volume in percent (500 when nothing sold)."""
    if st.sell_volume == 0:
        return Decimal("0.00") if st.buy_volume == 0 else Decimal("500.00")
    return _pct(st.buy_volume, st.sell_volume)


def _replace_prev(inst: Instrument, base: int) -> Instrument:
    from dataclasses import replace

    return replace(inst, prev_close=base)


def _with_prev_rank(row: StockStats, rank: int) -> StockStats:
    from dataclasses import replace

    return replace(row, prev_rank_value=rank)


__all__ = ["Engine", "Path"]
