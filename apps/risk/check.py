"""The pre-trade check: one pure function, `check(snapshot, intent) -> Decision`.

Framework-free on purpose (no Django, no database, no network: import-linter's `risk-check-pure`
contract): the caller takes a frozen `Snapshot` of the account, its positions and open orders,
today's P&L, the risk configuration (`Limits`), the risk state, the instrument's flags and the day's
price limits, under the per-account lock (`apps.risk.services.lock`), and saves the intent under the
same lock when the decision approves it.

Rules (DESIGN.md, "The trading gate"; seed 004 §6.7):
- An *exit* is a sell that shrinks a held position (quantity ≤ held − reserved). Exits are never
  blocked by entry limits, by the risk state or by the trader's switch; only a price that is not a
  valid order price (off the tick grid, outside the day's limits) refuses one.
- Every buy is an *entry* (long only). HALTED and REDUCING refuse entries (REDUCING: only orders that
  shrink exposure); automatic entries (strategy signals) also need the trader's switch on and stay out
  of the no-new-entry window before the close. Manual entries pass the same limits.
- Limits of an entry count open orders: weight per stock = (held value at the mark + unfilled buys of
  the code + the intent) ÷ current equity; positions = codes held ∪ codes with unfilled buys (+ the
  intent's code); daily loss = realised today + unrealised now − unrealised at the session's opening
  (the loss budget is the smaller of the KRW and the % limit); entries per minute count every buy
  created in the last 60 s.
- Every reason that applies is returned, not only the first (codes are stable; messages are Korean
  with `%(name)s` parameters, translated by the caller with gettext).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from krx.limits import price_limits as _price_limits
from krx.ticks import is_on_tick, tick_size

__all__ = [
    "EXCLUSION_KINDS",
    "Decision",
    "InstrumentFlags",
    "Intent",
    "Limits",
    "OpenOrder",
    "PositionState",
    "Reason",
    "RiskState",
    "Snapshot",
    "check",
    "day_pnl",
    "loss_budget",
]


# The day's limits of a base price are a fixed pair: computed once (the hot path calls this per intent).
price_limits = functools.lru_cache(maxsize=4096)(_price_limits)


def gettext_noop(message: str) -> str:
    """Marks a message for `makemessages` (this module imports no Django)."""
    return message


class RiskState:
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


# Instrument kinds a configuration may exclude from entries, with the flag each reads.
EXCLUSION_KINDS: dict[str, str] = {
    "halted": gettext_noop("거래정지"),
    "administrative": gettext_noop("관리종목"),
    "warning": gettext_noop("투자경고"),
    "risk": gettext_noop("투자위험"),
    "overheated": gettext_noop("단기과열"),
    "liquidation": gettext_noop("정리매매"),
    "caution": gettext_noop("투자주의"),
    "vi": gettext_noop("VI 발동 중"),
    "spac": gettext_noop("SPAC(스팩)"),
    "etn": gettext_noop("ETN"),
}

MESSAGES: dict[str, str] = {
    "halted": gettext_noop("리스크 상태가 중단(HALTED)이라 청산 주문만 허용합니다"),
    "reducing": gettext_noop("리스크 상태가 축소(REDUCING)라 보유를 줄이는 주문만 허용합니다"),
    "gate_closed": gettext_noop("자동매매 스위치가 꺼져 있어 자동 신규 진입을 보내지 않습니다"),
    "closing_window": gettext_noop(
        "장 마감 %(minutes)s분 전부터는 자동 신규 진입을 보내지 않습니다"
    ),
    "equity_unknown": gettext_noop(
        "계좌 평가금액을 알 수 없어 (잔고 동기화 전) 신규 진입을 막습니다"
    ),
    "daily_loss": gettext_noop("일일 손실 한도 도달: 오늘 손익 %(pnl)s원, 한도 %(budget)s원"),
    "loss_budget_reduce": gettext_noop(
        "일일 손실 한도의 %(share)s%%를 써서 신규 진입을 막습니다 (오늘 손익 %(pnl)s원)"
    ),
    "price_unknown": gettext_noop("주문 금액을 정할 가격이 없어 신규 진입을 막습니다"),
    "order_value": gettext_noop("주문 금액 %(value)s원이 1회 최대 주문금액 %(limit)s원을 넘습니다"),
    "weight": gettext_noop(
        "%(code)s 비중이 %(weight)s%%가 되어 종목당 한도 %(limit)s%%를 넘습니다"
    ),
    "max_positions": gettext_noop(
        "보유(미체결 매수 포함) %(count)s종목으로 동시 보유 한도 %(limit)s종목을 넘습니다"
    ),
    "entry_rate": gettext_noop("분당 신규 진입 주문 한도 %(limit)s건을 넘습니다"),
    "excluded": gettext_noop("진입 제외 종목입니다: %(kind)s"),
    "exceeds_position": gettext_noop(
        "매도 수량 %(quantity)s주가 매도가능 %(sellable)s주를 넘습니다"
    ),
    "off_tick": gettext_noop("주문가격 %(price)s원이 호가단위(%(tick)s원)에 맞지 않습니다"),
    "outside_limits": gettext_noop(
        "주문가격 %(price)s원이 가격제한폭(%(lower)s~%(upper)s원)을 벗어납니다"
    ),
}


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return MESSAGES[self.code]

    @property
    def message(self) -> str:
        """Korean, formatted (the caller translates `template` for other languages)."""
        return self.template % dict(self.params) if self.params else self.template


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    reasons: tuple[Reason, ...]
    is_exit: bool

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True, slots=True)
class Limits:
    """The entry limits of one risk configuration version (None: that limit is off)."""

    weight_pct: Decimal = Decimal(10)
    max_positions: int = 5
    max_daily_loss_krw: int | None = 2_000_000
    max_daily_loss_pct: Decimal | None = Decimal(2)
    max_order_value: int | None = 10_000_000
    max_entries_per_minute: int | None = 5
    no_entry_before_close_minutes: int = 15
    excluded: frozenset[str] = frozenset(
        {"halted", "administrative", "warning", "risk", "liquidation", "vi"}
    )
    reduce_at_pct: Decimal = Decimal(80)
    version: int | None = None


@dataclass(frozen=True, slots=True)
class PositionState:
    code: str
    quantity: int
    reserved: int
    cost: int  # buy amount + buy commission of the shares held (KRW)
    price: int | None  # the last known price; None: valued at cost

    @property
    def value(self) -> int:
        return self.price * self.quantity if self.price is not None else self.cost

    @property
    def unrealized(self) -> int:
        return self.value - self.cost


@dataclass(frozen=True, slots=True)
class OpenOrder:
    code: str
    side: str  # "buy" / "sell"
    remaining: int  # unfilled quantity
    price: int | None  # a limit price; None: market (valued at the code's mark or upper limit)


@dataclass(frozen=True, slots=True)
class InstrumentFlags:
    code: str
    market: str = "KOSPI"
    kinds: frozenset[str] = frozenset()  # the EXCLUSION_KINDS that apply to it now
    base_price: int | None = None  # the day's base price (previous close): the price limits
    mark: int | None = None  # the last known trade price


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: dt.datetime  # the exchange's time
    trading_day: dt.date
    session_close: dt.datetime | None  # today's regular close (None: not a trading day)
    opening_equity: int | None  # the session's opening equity (None: unknown)
    opening_unrealized: int  # unrealised P&L of the positions carried into the session
    realized_today: int
    positions: Mapping[str, PositionState]
    open_orders: tuple[OpenOrder, ...]
    entries_last_minute: int
    state: str
    switch_on: bool
    limits: Limits
    instrument: InstrumentFlags


@dataclass(frozen=True, slots=True)
class Intent:
    code: str
    side: str
    quantity: int
    price: int | None = None  # limit price; None for market/best orders
    reference_price: int | None = None
    automatic: bool = False  # a strategy signal (not a trader's or the risk engine's order)


def day_pnl(snapshot: Snapshot) -> int:
    """Realised today + unrealised now − unrealised at the session's opening (KRW)."""
    unrealized = sum(p.unrealized for p in snapshot.positions.values())
    return snapshot.realized_today + unrealized - snapshot.opening_unrealized


def loss_budget(limits: Limits, opening_equity: int | None) -> int | None:
    """The day's loss budget (KRW): the smaller of the KRW and the % limit (None: no limit known)."""
    budgets = []
    if limits.max_daily_loss_krw is not None:
        budgets.append(limits.max_daily_loss_krw)
    if limits.max_daily_loss_pct is not None and opening_equity is not None:
        budgets.append(int(Decimal(opening_equity) * limits.max_daily_loss_pct / 100))
    return min(budgets) if budgets else None


def _limits(snapshot: Snapshot) -> tuple[int, int] | None:
    base = snapshot.instrument.base_price
    if not base:
        return None
    return price_limits(base, snapshot.instrument.market, snapshot.trading_day)


def _price_reasons(snapshot: Snapshot, intent: Intent, out: list[Reason]) -> None:
    price = intent.price
    if price is None:
        return
    market, day = snapshot.instrument.market, snapshot.trading_day
    if not is_on_tick(price, market, day):
        out.append(Reason("off_tick", {"price": price, "tick": tick_size(price, market, day)}))
    limits = _limits(snapshot)
    if limits is not None and not limits[0] <= price <= limits[1]:
        out.append(
            Reason("outside_limits", {"price": price, "lower": limits[0], "upper": limits[1]})
        )


def _mark(snapshot: Snapshot, code: str) -> int | None:
    """The price an order without a limit is valued at: the last price, else the upper limit."""
    position = snapshot.positions.get(code)
    if position is not None and position.price is not None:
        return position.price
    if code == snapshot.instrument.code:
        if snapshot.instrument.mark is not None:
            return snapshot.instrument.mark
        limits = _limits(snapshot)
        if limits is not None:
            return limits[1]
    return None


def _order_value(snapshot: Snapshot, order: OpenOrder) -> int:
    price = order.price if order.price is not None else _mark(snapshot, order.code)
    if price is None:
        # Unknown price: value the unfilled buy at its position's average cost if any, else 0
        # (the new intent itself is refused without a price, so nothing unvalued is added).
        position = snapshot.positions.get(order.code)
        price = position.cost // position.quantity if position and position.quantity else 0
    return price * order.remaining


def _entry_reasons(snapshot: Snapshot, intent: Intent, out: list[Reason]) -> None:
    limits = snapshot.limits
    if snapshot.state == RiskState.HALTED:
        out.append(Reason("halted"))
    elif snapshot.state == RiskState.REDUCING:
        out.append(Reason("reducing"))
    if intent.automatic:
        if not snapshot.switch_on:
            out.append(Reason("gate_closed"))
        window = limits.no_entry_before_close_minutes
        close = snapshot.session_close
        if window and close is not None and close - dt.timedelta(minutes=window) <= snapshot.now:
            out.append(Reason("closing_window", {"minutes": window}))
    for kind in sorted(snapshot.instrument.kinds & limits.excluded):
        out.append(Reason("excluded", {"kind": EXCLUSION_KINDS.get(kind, kind)}))
    equity: int | None = None
    if snapshot.opening_equity is None:
        out.append(Reason("equity_unknown"))
    else:
        pnl = day_pnl(snapshot)
        equity = snapshot.opening_equity + pnl
        budget = loss_budget(limits, snapshot.opening_equity)
        if budget is not None and -pnl >= budget:
            out.append(Reason("daily_loss", {"pnl": pnl, "budget": budget}))
        elif budget is not None and -pnl * 100 >= budget * limits.reduce_at_pct:
            out.append(Reason("loss_budget_reduce", {"share": limits.reduce_at_pct, "pnl": pnl}))
    price = intent.price or intent.reference_price or _mark(snapshot, intent.code)
    if price is None:
        out.append(Reason("price_unknown"))
        value = None
    else:
        value = price * intent.quantity
        if limits.max_order_value is not None and value > limits.max_order_value:
            out.append(Reason("order_value", {"value": value, "limit": limits.max_order_value}))
    if value is not None and equity is not None:
        held = snapshot.positions.get(intent.code)
        exposure = value + (held.value if held is not None and held.quantity else 0)
        exposure += sum(
            _order_value(snapshot, o)
            for o in snapshot.open_orders
            if o.code == intent.code and o.side == "buy" and o.remaining > 0
        )
        if equity <= 0 or exposure * 100 > limits.weight_pct * equity:
            weight = (
                (Decimal(exposure) * 100 / equity).quantize(Decimal("0.1")) if equity > 0 else "∞"
            )
            out.append(
                Reason(
                    "weight", {"code": intent.code, "weight": weight, "limit": limits.weight_pct}
                )
            )
    codes = {c for c, p in snapshot.positions.items() if p.quantity > 0}
    codes |= {o.code for o in snapshot.open_orders if o.side == "buy" and o.remaining > 0}
    if intent.code not in codes and len(codes) + 1 > limits.max_positions:
        out.append(
            Reason("max_positions", {"count": len(codes) + 1, "limit": limits.max_positions})
        )
    rate = limits.max_entries_per_minute
    if rate is not None and snapshot.entries_last_minute + 1 > rate:
        out.append(Reason("entry_rate", {"limit": rate}))


def check(snapshot: Snapshot, intent: Intent) -> Decision:
    """Approve or refuse one order intent, with every reason that applies."""
    reasons: list[Reason] = []
    is_exit = False
    if intent.side == "sell":
        position = snapshot.positions.get(intent.code)
        sellable = position.quantity - position.reserved if position is not None else 0
        if intent.quantity > sellable:
            reasons.append(
                Reason("exceeds_position", {"quantity": intent.quantity, "sellable": sellable})
            )
        else:
            is_exit = True
    else:
        _entry_reasons(snapshot, intent, reasons)
    _price_reasons(snapshot, intent, reasons)
    return Decision(approved=not reasons, reasons=tuple(reasons), is_exit=is_exit)
