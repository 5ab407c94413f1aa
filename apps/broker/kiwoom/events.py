"""Kiwoom's realtime events: the contract's event types decoded from REAL frames (PROTOCOL §6.5–6.7, §7.3).

A busy session pushes tens of thousands of 0B frames a minute, so events are built cheaply: each
keeps the frame's FID map and decodes a field only when it is read (then caches nothing — reads are
rare compared with frames). Events are read-only; every accessor returns normalised values (int
KRW without direction sign, Decimal rates, bare codes, aware KST datetimes).
"""

from __future__ import annotations

import time as _time
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from apps.broker.contract import events as contract
from apps.broker.contract.types import Direction, OrderStatus, Side

from . import mapping
from . import normalize as n

__all__ = [
    "KiwoomBalanceEvent",
    "KiwoomConditionEvent",
    "KiwoomEvent",
    "KiwoomOrderEvent",
    "KiwoomTick",
    "KiwoomViEvent",
    "TradingDay",
    "make_vi_event",
    "parse_real",
]


class TradingDay:
    """The current KST date, recomputed only when the wall clock crosses KST midnight."""

    __slots__ = ("_day", "_until")

    def __init__(self) -> None:
        self._until = 0.0
        self._day = date(1970, 1, 1)

    def today(self) -> date:
        now = _time.time()
        if now >= self._until:
            local = datetime.fromtimestamp(now, n.KST)
            self._day = local.date()
            midnight = datetime(local.year, local.month, local.day, tzinfo=n.KST) + timedelta(
                days=1
            )
            self._until = midnight.timestamp()
        return self._day


class KiwoomEvent(tuple):
    """Base: `item` is the registered code, `day` the KST trading day the frame arrived on.

    Built as a tuple (item, FID map, day) because the client creates one per REAL entry — tens of
    thousands a minute — and `tuple.__new__` is several times cheaper than setting slots.
    """

    __slots__ = ()
    type_code = ""

    def __new__(cls, item: str, values: dict[str, str], day: date) -> KiwoomEvent:
        return tuple.__new__(cls, (item, values, day))

    @property
    def item(self) -> str:
        return self[0]

    @property
    def day(self) -> date:
        return self[2]

    def _g(self, fid: str) -> str:
        return self[1].get(fid, "")

    def _at(self, fid: str) -> datetime | None:
        return n.kst_at(self[2], self[1].get(fid, ""))

    @property
    def code(self) -> str:
        return n.code(self._g("9001") or self.item)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r})"


class KiwoomTick(KiwoomEvent, contract.Tick):
    """0B 주식체결: one trade."""

    __slots__ = ()
    type_code = "0B"

    @property
    def code(self) -> str:
        return n.code(self[0])

    @property
    def at(self) -> datetime | None:
        return self._at("20")

    @property
    def price(self) -> int | None:
        return n.price(self._g("10"))

    @property
    def change(self) -> int:
        return n.signed_int(self._g("11"))

    @property
    def change_rate(self) -> Decimal | None:
        return n.rate(self._g("12"))

    @property
    def direction(self) -> Direction:
        return mapping.direction(self._g("25"), self._g("11"))

    @property
    def quantity(self) -> int:
        return n.unsigned_int(self._g("15"))

    @property
    def aggressor(self) -> Side | None:
        """Buy- or sell-initiated (FID 15's sign); None when unsigned."""
        s = self._g("15")
        return Side.BUY if s.startswith("+") else Side.SELL if s.startswith("-") else None

    @property
    def cumulative_volume(self) -> int:
        return n.unsigned_int(self._g("13"))

    @property
    def cumulative_value_krw(self) -> int:
        return n.millions_to_krw(self._g("14"))

    @property
    def open(self) -> int | None:
        return n.price(self._g("16"))

    @property
    def high(self) -> int | None:
        return n.price(self._g("17"))

    @property
    def low(self) -> int | None:
        return n.price(self._g("18"))

    @property
    def best_ask(self) -> int | None:
        return n.price(self._g("27"))

    @property
    def best_bid(self) -> int | None:
        return n.price(self._g("28"))

    @property
    def session(self) -> str:
        """FID 290: 1 pre-market after-hours, 2 regular, 3 post-market after-hours."""
        return self._g("290")

    def __repr__(self) -> str:
        return f"KiwoomTick(code={self.code!r}, price={self.price}, quantity={self.quantity})"


class KiwoomOrderEvent(KiwoomEvent, contract.OrderEvent):
    """00 주문체결: accepted / filled / confirmed / cancelled / rejected."""

    __slots__ = ()
    type_code = "00"

    @property
    def account(self) -> str:
        return self._g("9201").strip()

    @property
    def order_no(self) -> str:
        return n.order_no(self._g("9203"))

    @property
    def original_order_no(self) -> str | None:
        s = self._g("904").strip()
        return None if not s.strip("0") else n.order_no(s)

    @property
    def status(self) -> OrderStatus:
        filled = n.int_or_none(self._g("911")) or n.unsigned_int(self._g("903"))
        return mapping.order_status(
            self._g("913"), remaining=self.remaining, filled=filled, kind=self._g("905")
        )

    @property
    def name(self) -> str:
        return self._g("302").strip()

    @property
    def order_kind(self) -> str:
        """FID 905 without its colour sign: 매수, 매도, 매수정정, 매도취소 …"""
        return self._g("905").strip().lstrip("+-")

    @property
    def side(self) -> Side:
        raw = self._g("907").strip()
        if raw in ("1", "2"):
            return Side.SELL if raw == "1" else Side.BUY
        return Side.BUY if "매수" in self._g("905") else Side.SELL

    @property
    def order_type_name(self) -> str:
        return self._g("906").strip()

    @property
    def quantity(self) -> int:
        return n.unsigned_int(self._g("900"))

    @property
    def price(self) -> int | None:
        return n.price(self._g("901"))

    @property
    def remaining(self) -> int:
        return n.unsigned_int(self._g("902"))

    @property
    def filled_value(self) -> int:
        return n.unsigned_int(self._g("903"))

    @property
    def at(self) -> datetime | None:
        return self._at("908")

    @property
    def execution_no(self) -> str | None:
        return n.blank_to_none(self._g("909"))

    @property
    def fill_price(self) -> int | None:
        """FID 910. Whether it is the last or the average price is unconfirmed (PROTOCOL §11)."""
        return n.price(self._g("910"))

    @property
    def filled_quantity(self) -> int | None:
        """FID 911 — cumulative in OpenAPI+ semantics, unconfirmed for REST; prefer unit_*."""
        return n.int_or_none(self._g("911"))

    @property
    def unit_fill_price(self) -> int | None:
        return n.price(self._g("914"))

    @property
    def unit_fill_quantity(self) -> int | None:
        return n.int_or_none(self._g("915"))

    @property
    def fee(self) -> int:
        return n.unsigned_int(self._g("938"))

    @property
    def tax(self) -> int:
        return n.unsigned_int(self._g("939"))

    @property
    def reject_reason(self) -> str | None:
        s = self._g("919").strip()
        return None if s in ("", "0") else s

    def __repr__(self) -> str:
        return f"KiwoomOrderEvent(order_no={self.order_no!r}, status={self.status!r}, code={self.code!r})"


class KiwoomBalanceEvent(KiwoomEvent, contract.BalanceEvent):
    """04 잔고: the position after a fill."""

    __slots__ = ()
    type_code = "04"

    @property
    def account(self) -> str:
        return self._g("9201").strip()

    @property
    def name(self) -> str:
        return self._g("302").strip()

    @property
    def quantity(self) -> int:
        return n.unsigned_int(self._g("930"))

    @property
    def average_price(self) -> int | None:
        return n.price(self._g("931"))

    @property
    def purchase_amount(self) -> int:
        return n.unsigned_int(self._g("932"))

    @property
    def sellable_quantity(self) -> int:
        return n.unsigned_int(self._g("933"))

    @property
    def current_price(self) -> int | None:
        return n.price(self._g("10"))

    @property
    def base_price(self) -> int | None:
        return n.price(self._g("307"))

    @property
    def realized_profit_loss(self) -> int:
        return n.signed_int(self._g("990"))

    def __repr__(self) -> str:
        return f"KiwoomBalanceEvent(code={self.code!r}, quantity={self.quantity})"


class KiwoomConditionEvent(KiwoomEvent, contract.ConditionEvent):
    """02 조건검색: a stock entered (I) or left (D) a realtime condition."""

    __slots__ = ()
    type_code = "02"

    @property
    def seq(self) -> str:
        return self._g("841").strip()

    @property
    def entered(self) -> bool:
        return self._g("843").strip().upper() == "I"

    @property
    def at(self) -> datetime | None:
        return self._at("20")

    def __repr__(self) -> str:
        return f"KiwoomConditionEvent(seq={self.seq!r}, code={self.code!r}, entered={self.entered})"


# FID 1225 VI적용구분 is text (PROTOCOL §6.7 `1h`, observed): 정적 / 동적 / 동적+정적.
_VI_KINDS = {
    "정적": contract.ViKind.STATIC,
    "동적": contract.ViKind.DYNAMIC,
    "동적+정적": contract.ViKind.BOTH,
    "정적+동적": contract.ViKind.BOTH,
}


class KiwoomViEvent(KiwoomEvent, contract.ViEvent):
    """1h VI발동/해제: a volatility interruption started or ended (PROTOCOL §6.7 `1h`, §9.5).

    FID 9068's values (1 발동, 2 해제) are observed, not documented: only an explicit `2` reads as a
    release. Anything else — `1`, blank, garbage — reads as active, the safer reading: an entry is
    refused a little longer (until a release or the risk engine's expiry), while a misread release
    would let entries into a stock whose trading is interrupted. Garbled numbers become None.
    """

    __slots__ = ()
    type_code = "1h"

    @property
    def name(self) -> str:
        return self._g("302").strip()

    @property
    def active(self) -> bool:
        return self._g("9068").strip() != "2"

    @property
    def kind(self) -> contract.ViKind:
        return _VI_KINDS.get(self._g("1225").replace(" ", ""), contract.ViKind.UNKNOWN)

    @property
    def trigger_price(self) -> int | None:
        return n.price(self._g("1221"))

    def _time(self, fid: str) -> datetime | None:
        try:
            return self._at(fid)
        except ValueError:  # six digits that are no time of day ("996060"): unknown, not a guess
            return None

    @property
    def at(self) -> datetime | None:
        return self._time("1223")

    @property
    def release_at(self) -> datetime | None:
        return self._time("1224")

    @property
    def static_reference(self) -> int | None:
        return n.price(self._g("1236"))

    @property
    def dynamic_reference(self) -> int | None:
        return n.price(self._g("1237"))

    @property
    def count(self) -> int | None:
        s = self._g("1490").strip()
        return int(s) if s.isdigit() else None

    @property
    def upward(self) -> bool | None:
        s = self._g("9069").strip()
        return True if s == "1" else False if s == "2" else None

    def __repr__(self) -> str:
        return (
            f"KiwoomViEvent(code={self.code!r}, active={self.active}, kind={self.kind.value}, "
            f"price={self.trigger_price})"
        )


EVENT_TYPES: dict[str, type[KiwoomEvent]] = {
    "0B": KiwoomTick,
    "00": KiwoomOrderEvent,
    "04": KiwoomBalanceEvent,
    "02": KiwoomConditionEvent,
    "1h": KiwoomViEvent,
}


_new = tuple.__new__
_loads = orjson.loads


def events_from_data(data: list[dict[str, Any]], day: date) -> list[contract.RealtimeEvent]:
    """REAL `data[]` entries → events; types we do not model are skipped."""
    out: list[contract.RealtimeEvent] = []
    for entry in data:
        cls = EVENT_TYPES.get(entry.get("type", ""))
        if cls is not None:
            out.append(_new(cls, (entry.get("item") or "", entry.get("values") or {}, day)))
    return out


def parse_real(frame: bytes | str, day: date) -> list[contract.RealtimeEvent]:
    """A raw REAL frame → events (the client's decode path; also used by the benchmark)."""
    msg = _loads(frame)
    if msg.get("trnm") != "REAL":
        return []
    return events_from_data(msg.get("data") or (), day)


# --------------------------------------------------------------------------- builders
# For in-memory backends and tests: build events from normalised values (the inverse encoding).
def _hms(at: datetime) -> str:
    return at.astimezone(n.KST).strftime("%H%M%S")


def make_tick(
    code: str,
    price: int,
    quantity: int,
    at: datetime,
    *,
    side: Side = Side.BUY,
    cum_volume: int = 0,
) -> KiwoomTick:
    sign = "+" if side is Side.BUY else "-"
    values = {"20": _hms(at), "10": str(price), "15": f"{sign}{quantity}", "13": str(cum_volume)}
    return KiwoomTick(code, values, at.astimezone(n.KST).date())


def make_order_event(
    order_no: str,
    code: str,
    status: OrderStatus,
    side: Side,
    quantity: int,
    price: int,
    remaining: int,
    at: datetime,
    *,
    fill_price: int | None = None,
    fill_quantity: int | None = None,
    original_order_no: str | None = None,
    filled_quantity: int | None = None,
) -> KiwoomOrderEvent:
    """`filled_quantity` is the order's cumulative fill (FID 911)."""
    amend = status is OrderStatus.REPLACED or (
        status is OrderStatus.ACCEPTED and original_order_no is not None
    )
    values = {
        "9203": order_no,
        "9001": code,
        "913": mapping.status_text(status, amend=amend),
        "905": mapping.order_kind(side is Side.BUY, status, amend=amend),
        "907": "2" if side is Side.BUY else "1",
        "900": str(quantity),
        "901": str(price),
        "902": str(remaining),
        "904": original_order_no or "0000000",
        "908": _hms(at),
        "914": "" if fill_price is None else str(fill_price),
        "915": "" if fill_quantity is None else str(fill_quantity),
        "911": "" if filled_quantity is None else str(filled_quantity),
    }
    return KiwoomOrderEvent(code, values, at.astimezone(n.KST).date())


def make_balance_event(
    code: str, quantity: int, average_price: int, current_price: int, at: datetime
) -> KiwoomBalanceEvent:
    values = {
        "9001": code,
        "930": str(quantity),
        "933": str(quantity),
        "931": str(average_price),
        "10": str(current_price),
    }
    return KiwoomBalanceEvent(code, values, at.astimezone(n.KST).date())


def make_condition_event(seq: str, code: str, entered: bool, at: datetime) -> KiwoomConditionEvent:
    values = {"841": seq, "9001": code, "843": "I" if entered else "D", "20": _hms(at)}
    return KiwoomConditionEvent(code, values, at.astimezone(n.KST).date())


def make_vi_event(
    code: str,
    active: bool,
    at: datetime,
    *,
    kind: contract.ViKind = contract.ViKind.DYNAMIC,
    price: int | None = None,
    release_at: datetime | None = None,
) -> KiwoomViEvent:
    text = {v: k for k, v in _VI_KINDS.items() if k != "정적+동적"}.get(kind, "")
    values = {
        "9001": code,
        "9068": "1" if active else "2",
        "1225": text,
        "1221": "" if price is None else str(price),
        "1223": _hms(at),
        "1224": _hms(release_at) if release_at else "",
    }
    return KiwoomViEvent(code, values, at.astimezone(n.KST).date())
