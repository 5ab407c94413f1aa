"""The engine behind the Exchange facade: a thin composer of the simulator's parts, and the
event schedule that drives them.

Parts, one job each: `history.History` (universe, price paths, past bars), `tape` (the day's
per-stock state and prints), `vi` (volatility interruptions), `matching.Book` (resting orders
and matching), `ledger.Ledger` (accounts, cash, holdings, fees, tax), `fields` (condition
fields), `reads.MarketReads` (quotes, books, bars, rankings) and `persistence` (snapshots).
A backtest composes matching and the ledger alone (core.py).

Time model: a heap of scheduled items (phase changes, auction matches, per-minute tick batches,
condition checkpoints every 10 s, VI releases, the day roll) is consumed in time order by
`advance(to)`, so results never depend on how finely the caller slices time. Orders placed between
two advances act at the engine's current time.

Matching rules (documented simplifications):
- Our orders never move the simulated tape (the paper accounts are price takers).
- A replayed day (real minute bars) has no simulated VI: its bars already hold the real ones, and
  its ticks reproduce each bar exactly (pricing.minute_ticks; README "Replay fidelity").
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
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from krx import KST, SessionPhase, regular_phase, regular_session
from krx import sessions as krx_sessions
from krx.codes import strip_market_prefix

from .clock import ManualClock, WallClock
from .conditions import ConditionSet, load_conditions
from .dto import (
    AccountSummary,
    ConditionEvent,
    Event,
    Holding,
    PhaseEvent,
    Side,
    rejection,
)
from .fields import compute_fields
from .history import History
from .ledger import Ledger
from .matching import Book
from .orders import OrderDesk
from .persistence import check_snapshot, restore_accounts, restore_market, snapshot
from .pricing import N_MINUTES, TradingDays, cumulative_profile, minute_ticks, rng_for
from .reads import MarketReads
from .tape import StockDay, fast_forward, record_print, set_touch, tick_of
from .vi import end_vi, start_vi, vi_event, vi_trigger

if TYPE_CHECKING:
    from .exchange import ExchangeConfig

T_PRE_OPEN = krx_sessions.PRE_OPEN
T_OPEN = krx_sessions.OPEN
T_CLOSING_AUCTION = krx_sessions.CLOSING_AUCTION_START
T_CLOSE = krx_sessions.CLOSE
T_ROLL = dt.time(8, 0)
CHECK_EVERY = dt.timedelta(seconds=10)


def _at(day: dt.date, t: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, t, tzinfo=KST)


class Engine:
    t_open = T_OPEN
    at = staticmethod(_at)

    def __init__(self, config: ExchangeConfig, _state: dict[str, Any] | None = None) -> None:
        self.config = config
        self.seed = int(config.seed)
        self.participation = Decimal(config.participation)
        self.days = TradingDays(
            getattr(config, "use_krx_calendar", True), getattr(config, "calendar_cache_dir", None)
        )
        self.history = History(config, self.days)
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
        self.ledger = Ledger(config.start_cash, Decimal(config.commission_rate))
        self.book = Book()
        self.reads = MarketReads(self)
        self.desk = OrderDesk(self)
        self.outbox: list[Event] = []
        self._heap: list[tuple[dt.datetime, int, int, str, Any]] = []
        self._hseq = itertools.count()
        self.stocks: dict[str, StockDay] = {}
        self._open_day: dt.date | None = None
        self._open_at = dt.datetime.min.replace(tzinfo=KST)

        if _state is not None:
            day, bases = restore_market(self, _state)
        else:
            day = self._day_for(start)
            bases = self.history.first_bases(day)
            self.history.anchor_day = day
            self.history.anchor_base = dict(bases)
        self.day = day
        self.now = min(start, _at(day, T_ROLL)) if start.date() <= day else start
        self._setup_day(day, bases)
        if start >= _at(day, T_CLOSE) and self.days.is_trading_day(day):
            # Starting after the day's close: finish the day from its paths instead of ticks.
            self._fast_forward_day()
            self.now = start
        self._catch_up(start)
        for account in config.accounts:
            self.ledger.open_account(account, None)

    @classmethod
    def from_snapshot(cls, state: dict[str, Any], config: ExchangeConfig) -> Engine:
        check_snapshot(state, config)
        eng = cls(config, _state=state)
        # The market was replayed to `now` by the constructor; now put the accounts back.
        restore_accounts(eng, state, config)
        return eng

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self)

    # ================================================================== day setup
    def _day_for(self, moment: dt.datetime) -> dt.date:
        """The trading day a moment belongs to: today until the next trading day's roll."""
        d = moment.date()
        if self.days.is_trading_day(d) and moment.time() >= T_ROLL:
            return d
        return self.days.previous(d)

    def _setup_day(self, day: dt.date, bases: dict[str, int]) -> None:
        self.day = day
        self.stocks = {}
        self.conditions.reset()
        # Every condition change of the day, kept for `/_sim/conditions` (a restart rebuilds it: the
        # day is replayed from its start)
        self.condition_log: list[ConditionEvent] = []
        self._heap = []
        self.ledger.reset_numbers()
        for code, inst in sorted(self.history.instruments.items()):
            base = self.history.base_for(code, day, bases.get(code, inst.prev_close))
            path = self.history.make_path(inst, day, base)
            prev = self.history.daily_before(code, day)
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
            set_touch(st, base, None, day)
            self.stocks[code] = st
        if not self.days.is_trading_day(day):
            self._push(_at(self.days.next(day), T_ROLL), 0, "roll", None)
            return
        self._push(_at(day, T_PRE_OPEN), 0, "phase", SessionPhase.OPENING_AUCTION)
        self._push(_at(day, T_OPEN), 0, "phase", SessionPhase.CONTINUOUS)
        self._push(_at(day, T_OPEN), 1, "open_auction", None)
        self._push(_at(day, T_OPEN), 2, "minute", 0)
        if getattr(self.config, "condition_checks", True):
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

    def next_event_at(self, skip: frozenset[str] = frozenset()) -> dt.datetime | None:
        if not skip:
            return self._heap[0][0] if self._heap else None
        return min((item[0] for item in self._heap if item[3] not in skip), default=None)

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
                self.desk.expire_all(when, events)
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
            self.history.record_day(self.stocks, self.day)
            bases = {c: st.price or st.base for c, st in self.stocks.items()}
            self.ledger.new_day()
            self.book.clear()
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
            fast_forward(st, _at(self.day, T_OPEN), self.day)
        self._heap = [item for item in self._heap if item[3] == "roll"]
        heapq.heapify(self._heap)

    def minute_index(self, when: dt.datetime) -> int:
        if self._open_day != self.day:
            self._open_day, self._open_at = self.day, _at(self.day, T_OPEN)
        return int((when - self._open_at).total_seconds() // 60)

    def prev_same_time(self, st: StockDay, when: dt.datetime) -> int:
        """The previous day's volume up to the same time of day (volume profile share)."""
        m = self.minute_index(when)
        if m < 0:
            return 0
        prof = cumulative_profile()
        share = prof[m] if m < N_MINUTES else 1.0
        return int(st.prev_volume * share)

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
            self.book.market_on_close()

    def _on_minute(self, m: int, when: dt.datetime) -> None:
        for code, st in self.stocks.items():
            for offset, price, vol in minute_ticks(st.rng, st.path.bars[m], st.avg_minute_volume):
                # Ticks at the very first millisecond of 09:00 would race the opening match.
                t = when + dt.timedelta(milliseconds=max(offset, 1))
                self._push(t, 3, "tick", (code, price, vol))
        if m + 1 < N_MINUTES:
            self._push(when + dt.timedelta(minutes=1), 2, "minute", m + 1)

    def _on_trade(
        self, st: StockDay, when: dt.datetime, price: int, vol: int, events: list[Event]
    ) -> None:
        if st.vi_until is not None:
            st.vi_volume += vol
            st.vi_price = price
            return
        last = st.last
        # A replayed day's real bars already hold whatever VI the stock had: the tape must
        # reproduce them, so no simulated VI interrupts it.
        kind = (
            None
            if st.path.replayed
            else vi_trigger(price, st.static_ref, last, kospi200=st.inst.kospi200)
        )
        if kind is not None and st.price:
            event, release = start_vi(st, when, price, vol, kind, _at(self.day, T_CLOSING_AUCTION))
            events.append(event)
            self._push(release, 1, "vi_release", st.inst.code)
            return
        if price > last:
            side = Side.BUY
        elif price < last:
            side = Side.SELL
        else:
            side = Side.BUY if st.rng.random() < 0.5 else Side.SELL
        self._print(st, when, price, vol, side, False, SessionPhase.CONTINUOUS, events)

    def _on_vi_release(self, st: StockDay, when: dt.datetime, events: list[Event]) -> None:
        if st.vi_until is None:
            return
        event, price, vol = end_vi(st, when)
        events.append(event)
        side = Side.BUY if price >= st.last else Side.SELL
        if when >= _at(self.day, T_CLOSING_AUCTION):
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
                    events.append(vi_event(st, when, False, st.vi_kind, st.vi_price, when))
                price, vol = st.path.close_price, st.path.close_volume
            price = min(max(price, st.limits[0]), st.limits[1])
            if vol <= 0:
                continue
            side = Side.BUY if price >= st.last else Side.SELL
            self._print(st, when, price, vol, side, True, phase, events)
            if opening:
                st.static_ref = price

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
        record_print(st, when, price, vol, side, self.minute_index(when), self.day)
        events.append(tick_of(st, when, vol, side, auction, phase, self.prev_same_time(st, when)))
        if self.book.has_orders(st.inst.code):
            self.desk.match_print(st, when, price, vol, auction, events)

    # ================================================================== conditions
    def _fields(self, names: frozenset[str] | None = None) -> dict[str, dict[str, float]]:
        """Per-stock condition fields (only `names`, default: those the conditions read)."""
        return compute_fields(
            self.stocks,
            names or self.conditions.needed,
            max(0, self.minute_index(self.now)),
            lambda st: self.prev_same_time(st, self.now),
        )

    def _on_check(self, when: dt.datetime, events: list[Event]) -> None:
        for seq, code, kind in self.conditions.evaluate(self._fields()):
            event = ConditionEvent(seq, code, kind, when)
            events.append(event)
            self.condition_log.append(event)
        nxt = when + CHECK_EVERY
        if nxt <= _at(self.day, T_CLOSE):
            self._push(nxt, 5, "check", None)

    def condition_members(self, seq: str) -> list[str]:
        if seq not in self.conditions.conditions:
            raise rejection("1999", f"조건식이 존재하지 않습니다. seq={seq}")
        if not self.conditions.evaluated:
            cond = self.conditions.conditions[seq]
            return sorted(c for c, f in self._fields().items() if cond.matches(f))
        return sorted(self.conditions.members[seq])

    # ================================================================== accounts
    def stock(self, code: str) -> StockDay:
        code = strip_market_prefix(code)
        st = self.stocks.get(code)
        if st is None:
            raise rejection(
                "1902", f"종목 정보가 없습니다. 입력한 종목코드 값을 확인바랍니다. 종목코드={code}"
            )
        return st

    def _mark(self, code: str) -> tuple[int, int]:
        st = self.stocks.get(code)
        price = st.last if st else 0
        return price, st.base if st else price

    def holdings(self, account: str) -> list[Holding]:
        return self.ledger.holdings(account, self.history.instruments, self._mark, self.day)

    def summary(self, account: str) -> AccountSummary:
        self.ledger.account(account)
        return self.ledger.summary(account, self.holdings(account))
