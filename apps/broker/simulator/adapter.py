"""The protocol server's side of the engine boundary.

Owns `MarketAdapter`, the one place the protocol layer calls the engine facade
(`exchange.Exchange`): reads for the TR handlers, order entry, condition search, persistence, and
the translation of engine events (Tick, OrderEvent, BalanceEvent, ConditionEvent, ViEvent,
PhaseEvent) into Kiwoom REAL frames with their full FID sets (PROTOCOL.md §6.7, §7.3).
Also builds an Exchange for the server and picks default start times.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from krx import KST

from . import encode as E
from .clock import clock_path, write_clock
from .dto import (
    ORDER_TYPE_NAMES,
    AccountSummary,
    BalanceEvent,
    Bar,
    CashInfo,
    ConditionEvent,
    DailyBar,
    Holding,
    Instrument,
    OrderAck,
    OrderAction,
    OrderBook,
    OrderEvent,
    OrderView,
    PhaseEvent,
    Quote,
    Side,
    SimRejection,
    StockStats,
    Tick,
    ViEvent,
)

if TYPE_CHECKING:
    from .server import Credential, SimServer
    from .ws import Hub

log = logging.getLogger(__name__)

_NO_TIME = "000000"


def default_start(day: dt.date | None = None, at: dt.time = dt.time(9, 0)) -> dt.datetime:
    """A deterministic start for tests: a fixed ordinary trading day at 09:00 KST."""
    return dt.datetime.combine(day or dt.date(2025, 1, 15), at, tzinfo=KST)


def build_exchange(
    credentials: Iterable[Credential],
    *,
    start: dt.datetime,
    **options: Any,
) -> Any:
    """Build (or restore, with `state_path`) an Exchange and open one account per credential."""
    from .exchange import Exchange, ExchangeConfig

    options.setdefault("start", start)
    config = ExchangeConfig(**options)
    exchange = (
        Exchange.load_or_create(config) if config.state_path is not None else Exchange(config)
    )
    for cred in credentials:
        exchange.open_account(cred.account, cred.starting_cash)
    return exchange


def _hhmmss(moment: dt.datetime | None) -> str:
    return E.hhmmss(moment) if moment is not None else ""


def io_name(side: Side, action: OrderAction) -> str:
    """주문구분: '+매수', '-매도', '+매수정정', '-매도취소' ('+' buy side, '-' sell side)."""
    sign = "+" if side is Side.BUY else "-"
    suffix = {OrderAction.AMEND: "정정", OrderAction.CANCEL: "취소"}.get(action, "")
    return f"{sign}{side.korean}{suffix}"


def order_no(value: str | None) -> str:
    return value.zfill(7) if value else "0000000"


class MarketAdapter:
    def __init__(self, exchange: Any, server: SimServer) -> None:
        self.exchange = exchange
        self.server = server
        self._base_cache: dict[str, tuple[dt.date, int]] = {}
        self.dirty = False
        self._last_save = self._last_clock = time.monotonic()
        self.orders_placed = 0
        self._cache_instant: tuple[Any, ...] | None = None
        self._cache: dict[tuple[Any, ...], Any] = {}

    # ---------------------------------------------------------------- time
    def now(self) -> dt.datetime:
        return self.exchange.now()

    def advance(self, to: dt.datetime) -> list[Any]:
        return self.exchange.advance(to)

    # ---------------------------------------------------------------- reads
    def quote(self, code: str) -> Quote | None:
        try:
            return self.cached("quote", self.exchange.quote, code)
        except (SimRejection, KeyError):
            return None

    def instrument(self, code: str) -> Instrument | None:
        try:
            return self.exchange.instrument(code)
        except (SimRejection, KeyError):
            return None

    def instruments(self) -> list[Instrument]:
        return self.exchange.instruments()

    def book(self, code: str) -> OrderBook:
        return self.cached("book", self.exchange.order_book, code)

    def minute_bars(
        self, code: str, minutes: int, before: dt.datetime | None, limit: int
    ) -> list[Bar]:
        return self.exchange.minute_bars(code, minutes, before, limit)

    def daily_bars(self, code: str, end: dt.date | None, limit: int) -> list[DailyBar]:
        return self.exchange.daily_bars(code, end, limit)

    def instant(self) -> tuple[Any, ...]:
        """Identifies one state of the market: nothing read from the engine can change until
        the clock steps or one of our own orders lands."""
        return (self.now(), self.server.steps, self.orders_placed)

    def cached(self, name: str, compute: Any, *args: Any) -> Any:
        """Engine reads (statistics of every stock, quotes, books) cost 0.1-5 ms each; requests
        that arrive within one simulated instant share the answer."""
        instant = self.instant()
        if self._cache_instant != instant:
            self._cache.clear()
            self._cache_instant = instant
        key = (name, *args)
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = compute(*args)
            return value

    def stock_stats(self) -> list[StockStats]:
        return self.cached("stats", self.exchange.stats)

    def recent_volume(self, code: str, minutes: int) -> tuple[int, int]:
        return self.cached("recent_volume", self.exchange.recent_volume, code, minutes)

    def cash(self, account: str) -> CashInfo:
        return self.exchange.cash(account)

    def holdings(self, account: str) -> list[Holding]:
        return self.exchange.holdings(account)

    def summary(self, account: str) -> AccountSummary:
        return self.exchange.summary(account)

    def orders(self, account: str) -> list[OrderView]:
        return self.exchange.orders(account)

    def base_price(self, code: str) -> int:
        """기준가 of `code` today (cached per trading day: direction signs need it per event)."""
        day = self.now().date()
        hit = self._base_cache.get(code)
        if hit is not None and hit[0] == day:
            return hit[1]
        q = self.quote(code)
        base = q.base_price if q else 0
        self._base_cache[code] = (day, base)
        return base

    # ---------------------------------------------------------------- orders
    def _order(self, fn: Any, *args: Any) -> OrderAck:
        from .server import KiwoomError

        try:
            ack = fn(*args)
        except SimRejection as rej:
            raise KiwoomError(20, _rejection_msg(rej)) from rej
        self.dirty = True
        self.orders_placed += 1
        if self.server.state_file:
            # An accepted order must survive a crash right after the reply (reconciliation
            # tests kill the simulator): persist before answering. A save costs a few ms.
            self.save(self.server.state_file)
        return ack

    def place(
        self, account: str, side: Side, code: str, qty: int, price: int, trde_tp: str, cond: int
    ) -> OrderAck:
        from .server import business_error

        if trde_tp not in _SUPPORTED_TYPES:
            name = ORDER_TYPE_NAMES.get(trde_tp, trde_tp)
            raise business_error("RC9000", f"모의투자에서는 해당업무가 제공되지 않습니다. ({name})")
        return self._order(self.exchange.place_order, account, side, code, qty, price, trde_tp)

    def amend(
        self, account: str, orig: str, code: str, qty: int, price: int, cond: int
    ) -> OrderAck:
        return self._order(self.exchange.amend_order, account, orig, code, qty, price)

    def cancel(self, account: str, orig: str, code: str, qty: int) -> OrderAck:
        return self._order(self.exchange.cancel_order, account, orig, code, qty)

    # ---------------------------------------------------------------- conditions
    def condition_list(self) -> list[tuple[str, str]]:
        return [(c.seq, c.name) for c in self.exchange.condition_list()]

    def has_condition(self, seq: str) -> bool:
        return any(c.seq == seq for c in self.exchange.condition_list())

    def condition_members(self, seq: str) -> list[str]:
        return sorted(self.exchange.condition_members(seq))

    def condition_rows(self, codes: list[str]) -> list[dict[str, str]]:
        rows = []
        for code in codes:
            q = self.quote(code)
            if q is None:
                continue
            rows.append(
                {
                    "9001": E.prefixed(q.code),
                    "302": q.name,
                    "10": E.cond_num(q.price),
                    "25": q.sign,
                    "11": E.cond_num(q.change),
                    "12": E.cond_rate(q.change_rate_pct),
                    "13": E.cond_num(q.volume),
                    "16": E.cond_num(q.open),
                    "17": E.cond_num(q.high),
                    "18": E.cond_num(q.low),
                }
            )
        return rows

    def condition_watch(self, seq: str, on: bool) -> None:
        """The engine evaluates every condition anyway; nothing to switch."""

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> None:
        self.exchange.save(path)
        self.dirty = False
        self._last_save = time.monotonic()

    def maybe_save(self, path: str | Path | None, every_s: float = 1.0) -> None:
        if path and self.dirty and time.monotonic() - self._last_save >= every_s:
            self.save(path)
        if path and time.monotonic() - self._last_clock >= every_s:
            # The clock's position, so a crash restart continues it (clock.continued_start).
            write_clock(clock_path(path), self.now(), self.server.clock.speed)
            self._last_clock = time.monotonic()

    # ---------------------------------------------------------------- events -> REAL frames
    def publish(self, events: list[Any], hub: Hub) -> None:
        for ev in events:
            try:
                self._publish_one(ev, hub)
            except Exception:
                # One malformed event must not swallow the rest of the batch.
                log.exception("could not publish %s", type(ev).__name__)

    def _publish_one(self, ev: Any, hub: Hub) -> None:
        if isinstance(ev, Tick):
            self._tick(ev, hub)
        elif isinstance(ev, OrderEvent):
            self.dirty = True
            hub.publish_account(ev.account, "00", ev.code, self.order_values(ev))
        elif isinstance(ev, BalanceEvent):
            hub.publish_account(ev.account, "04", ev.code, self.balance_values(ev))
        elif isinstance(ev, ConditionEvent):
            if hub.wants_condition(ev.seq):
                hub.publish_condition(ev.seq, ev.code, condition_values(ev))
        elif isinstance(ev, ViEvent):
            if hub.wants("1h", ev.code):
                hub.publish("1h", ev.code, self.vi_values(ev))
        elif isinstance(ev, PhaseEvent):
            hub.publish("0s", "", phase_values(ev))

    def _tick(self, t: Tick, hub: Hub) -> None:
        if hub.wants("0B", t.code):
            hub.publish("0B", t.code, tick_values(t))
        if hub.wants("0C", t.code):
            hub.publish(
                "0C",
                t.code,
                {
                    "27": E.signed_price(t.best_ask, t.base_price),
                    "28": E.signed_price(t.best_bid, t.base_price),
                },
            )
        if hub.wants("0D", t.code):
            hub.publish("0D", t.code, book_values(self.book(t.code), t.base_price, t.cum_volume))

    def order_values(self, ev: OrderEvent) -> dict[str, str]:
        base = self.base_price(ev.code)
        filled = ev.status == "체결"
        return {
            "9201": ev.account,
            "9203": order_no(ev.order_no),
            "9205": "",
            "9001": ev.code,
            "912": "JJ",
            "913": str(ev.status),
            "302": ev.name,
            "900": str(ev.order_qty),
            "901": str(ev.order_price),
            "902": str(ev.remaining_qty),
            "903": str(ev.filled_value),
            "904": order_no(ev.orig_order_no),
            "905": io_name(ev.side, ev.action),
            "906": ORDER_TYPE_NAMES.get(str(ev.order_type), "보통"),
            "907": ev.side.kiwoom,
            "908": E.hhmmss(ev.time),
            # 910/911 follow the OpenAPI+ reading (average price / cumulative qty) that
            # PROTOCOL.md §6.7 marks unverified; 914/915 carry this fill alone.
            "909": ev.fill_no if filled else "",
            "910": str(ev.avg_fill_price) if filled else "",
            "911": str(ev.filled_qty) if filled else "",
            "10": E.signed_price(ev.price, base),
            "27": E.signed_price(ev.best_ask, base),
            "28": E.signed_price(ev.best_bid, base),
            "914": str(ev.fill_price) if filled else "",
            "915": str(ev.fill_qty) if filled else "",
            "938": str(ev.commission),
            "939": str(ev.tax),
            "919": ev.reject_reason or "0",
            "920": "",
            "921": "",
            "922": "00",
            "923": "00000000",
            "10010": "",
            "2134": "1",
            "2135": "KRX",
            "2136": "N",
        }

    def balance_values(self, ev: BalanceEvent) -> dict[str, str]:
        base = ev.base_price
        return {
            "9201": ev.account,
            "9001": ev.code,
            "917": "00",
            "916": "00000000",
            "302": ev.name,
            "10": E.signed_price(ev.price, base),
            "930": str(ev.qty),
            "931": str(ev.avg_price),
            "932": str(ev.cost),
            "933": str(ev.orderable_qty),
            "945": str(ev.today_net_buy_qty),
            "946": ev.side.kiwoom,
            "950": str(ev.today_realized_pnl),
            "951": "0",
            "27": E.signed_price(ev.best_ask, base),
            "28": E.signed_price(ev.best_bid, base),
            "307": str(base),
            "8019": E.pct(ev.realized_pnl_rate_pct),
            "957": "0",
            "958": "0",
            "918": "00000000",
            "990": str(ev.today_realized_pnl),
            "991": E.pct(ev.realized_pnl_rate_pct, signed=False),
            "992": "0",
            "993": "0.00",
            "959": "0",
            "924": "0",
        }

    def vi_values(self, ev: ViEvent) -> dict[str, str]:
        base = self.base_price(ev.code)
        kind = {"static": "정적", "dynamic": "동적", "both": "동적+정적"}.get(ev.kind, ev.kind)
        return {
            "9001": ev.code,
            "302": ev.name,
            "13": str(ev.cum_volume),
            "14": str(E.millions(ev.cum_value)),
            "9068": "1" if ev.active else "2",
            "9008": str(ev.market),
            "9075": "",
            "1221": str(ev.trigger_price),
            "1223": E.hhmmss(ev.time),
            "1224": E.hhmmss(ev.release_time),
            "1225": kind,
            "1236": str(ev.static_ref),
            "1237": str(ev.dynamic_ref),
            "1238": E.pct(ev.static_gap_pct),
            "1239": E.pct(ev.dynamic_gap_pct),
            "1489": E.pct(E.change_rate(ev.trigger_price, base)),
            "1490": str(ev.count),
            "9069": "1" if ev.up else "2",
            "1279": "",
        }


# Order types the engine executes (dto.OrderType); anything else is refused up front.
_SUPPORTED_TYPES = frozenset({"0", "3", "5", "6", "7", "10", "13", "20", "23"})


def _rejection_msg(rej: SimRejection) -> str:
    msg = rej.message or str(rej)
    return msg if msg.startswith("[") else f"[2000]({rej.code}:{msg})"


def tick_values(t: Tick) -> dict[str, str]:
    base = t.base_price
    prev_same = t.prev_volume_same_time
    buy_tick = t.side is Side.BUY
    total = t.buy_volume + t.sell_volume
    return {
        "20": E.hhmmss(t.time),
        "10": E.signed_price(t.price, base),
        "11": E.arith(t.change),
        "12": E.pct(t.change_rate_pct),
        "27": E.signed_price(t.best_ask, base),
        "28": E.signed_price(t.best_bid, base),
        "15": f"+{t.volume}" if buy_tick else f"-{t.volume}",
        "13": str(t.cum_volume),
        "14": str(E.millions(t.cum_value)),
        "16": E.signed_price(t.open, base),
        "17": E.signed_price(t.high, base),
        "18": E.signed_price(t.low, base),
        "25": t.sign,
        "26": E.arith(t.cum_volume - prev_same),
        # 거래대금증감 needs the previous day's value to the same time, which the engine does
        # not track; 0 says "no change known" rather than inventing a number.
        "29": "0",
        "30": E.ratio_pct(t.cum_volume, prev_same),
        "31": E.pct(t.turnover_pct, signed=False),
        "32": "",
        "228": E.pct(t.strength_pct, signed=False),
        "311": str(E.hundred_millions(t.market_cap)),
        "290": "2",
        "691": "0",
        "567": _hhmmss(t.upper_limit_time) or _NO_TIME,
        "568": _hhmmss(t.lower_limit_time) or _NO_TIME,
        "851": E.ratio_pct(t.cum_volume, prev_same, signed=False),
        "1890": _hhmmss(t.open_time),
        "1891": _hhmmss(t.high_time),
        "1892": _hhmmss(t.low_time),
        "1030": str(t.sell_volume),
        "1031": str(t.buy_volume),
        "1032": E.ratio_pct(t.buy_volume, total, signed=False),
        "1071": str(t.sell_count),
        "1072": str(t.buy_count),
        "1313": str(t.price * t.volume),
        "1315": "0" if buy_tick else str(t.volume),
        "1316": str(t.volume) if buy_tick else "0",
        "1314": E.arith(t.buy_volume - t.sell_volume),
        "1497": "",
        "1498": "",
        "620": str(t.vwap),
        "732": "",
        "852": "",
        "9081": "1",
    }


def condition_values(ev: ConditionEvent) -> dict[str, str]:
    # 907 is "2" in the only official example (an insert); its meaning for condition events is
    # undocumented, so the simulator always sends the example's value.
    return {
        "841": ev.seq,
        "9001": ev.code,
        "843": ev.kind,
        "20": E.hhmmss(ev.time),
        "907": "2",
        "9081": "1",
    }


def phase_values(ev: PhaseEvent) -> dict[str, str]:
    return {"215": ev.kiwoom_code, "20": E.hhmmss(ev.time), "214": _NO_TIME}


def book_values(book: OrderBook, base: int, cum_volume: int) -> dict[str, str]:
    v: dict[str, str] = {"21": E.hhmmss(book.time)}
    asks = list(book.asks[:10])
    bids = list(book.bids[:10])
    for i in range(10):
        a = asks[i] if i < len(asks) else None
        b = bids[i] if i < len(bids) else None
        v[str(41 + i)] = E.signed_price(a.price, base) if a else "0"
        v[str(51 + i)] = E.signed_price(b.price, base) if b else "0"
        v[str(61 + i)] = str(a.qty) if a else "0"
        v[str(71 + i)] = str(b.qty) if b else "0"
        v[str(81 + i)] = E.arith(a.qty_change) if a else "0"
        v[str(91 + i)] = E.arith(b.qty_change) if b else "0"
        v[str(621 + i)] = "0"
        v[str(631 + i)] = "0"
        v[str(6044 + i)] = str(a.qty) if a else "0"
        v[str(6054 + i)] = str(b.qty) if b else "0"
        v[str(6066 + i)] = "0"
        v[str(6076 + i)] = "0"
    ta, tb = book.total_ask_qty, book.total_bid_qty
    both = ta + tb
    v.update(
        {
            "121": str(ta),
            "122": E.arith(book.total_ask_change),
            "125": str(tb),
            "126": E.arith(book.total_bid_change),
            "23": str(book.expected_price),
            "24": str(book.expected_qty),
            "128": E.arith(tb - ta),
            "129": E.ratio_pct(tb, both, signed=False),
            "138": E.arith(ta - tb),
            "139": E.ratio_pct(ta, both, signed=False),
            "200": E.arith(book.expected_price - base) if book.expected_price else "0",
            "201": E.pct(E.change_rate(book.expected_price, base)),
            "238": E.sign_code(book.expected_price, base),
            "291": str(book.expected_price) if book.expected_price else "",
            "292": str(book.expected_qty) if book.expected_price else "",
            "293": E.sign_code(book.expected_price, base) if book.expected_price else "",
            "294": E.arith(book.expected_price - base) if book.expected_price else "",
            "295": E.pct(E.change_rate(book.expected_price, base)) if book.expected_price else "",
            "13": str(cum_volume),
            "299": "",
            "215": "",
            "216": "",
            "6064": str(ta),
            "6065": str(tb),
            "6086": "0",
            "6087": "0",
        }
    )
    for fid in range(6100, 6116):
        v[str(fid)] = ""
    return v


_ = Decimal
