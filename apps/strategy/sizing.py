"""Sizing a signal's order (pure: no database, no I/O): the quantity within the strategy's budget, the
risk configuration's max order value and its weight per stock, at a marketable limit on the KRX tick grid within the day's limits.
Used by the live path (`apps.strategy.execution`) and the backtest runner alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings

import krx
from apps.risk.exits import exit_limit_price

from .engine.base import StrategySettings
from .engine.events import Signal

if TYPE_CHECKING:
    from .execution import Prepared

__all__ = [
    "OrderPlan",
    "entry_limit_price",
    "entry_slippage",
    "exit_slippage",
    "plan_order",
    "weight_room",
]

HUNDRED = Decimal(100)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def entry_slippage() -> Decimal:
    return Decimal(str(_setting("STRATEGY_ENTRY_SLIPPAGE_PCT", "0.5")))


def exit_slippage() -> Decimal:
    return Decimal(str(_setting("STRATEGY_EXIT_SLIPPAGE_PCT", "1")))


def entry_limit_price(
    reference: int, slippage_pct: Decimal, upper_limit: int | None, market: str, day: dt.date
) -> int:
    """A marketable buy limit: `slippage_pct` above `reference`, rounded down onto the tick grid
    (never pays above the cap), clamped to the day's upper limit (never outside the limits)."""
    raw = (Decimal(reference) * (1 + slippage_pct / HUNDRED)).to_integral_value(
        rounding=ROUND_FLOOR
    )
    price = krx.tick_round(int(raw), market, day, "down")
    if upper_limit is not None:
        price = min(price, upper_limit)
    return max(price, 1)


def weight_room(weight_pct: Decimal, equity: int | None, exposure: int) -> int | None:
    """KRW one more buy of a code may add under the risk configuration's weight per stock: `weight_pct`
    of `equity` (the session's opening equity) less the code's `exposure` (held at the mark plus
    unfilled buys); None when the equity is unknown (the pre-trade check then decides alone)."""
    if equity is None or equity <= 0:
        return None
    cap = (Decimal(equity) * weight_pct / HUNDRED).to_integral_value(rounding=ROUND_FLOOR)
    return max(int(cap) - exposure, 0)


@dataclass(frozen=True)
class OrderPlan:
    quantity: int
    price: int
    refusal: dict[str, str] | None = None  # why no order can be made (no price, no budget, ...)


def plan_order(
    signal: Signal,
    prepared: Prepared,
    strategy: StrategySettings | None,
    reference: int | None,
    limits: tuple[int, int] | None,
) -> OrderPlan:
    """Quantity and marketable limit price of the signal's order (pure). `reference`: the signal's
    price, else the last trade's; `limits`: the day's (lower, upper) price limits when known."""
    day = signal.at.astimezone(krx.KST).date()
    if not reference or reference <= 0:
        return OrderPlan(0, 0, {"code": "price_unknown", "message": "기준 가격을 알 수 없습니다"})
    if signal.side == "sell":
        price = exit_limit_price(
            reference, exit_slippage(), limits[0] if limits else None, prepared.market, day
        )
        if prepared.sellable <= 0:
            return OrderPlan(
                0,
                price,
                {"code": "nothing_sellable", "message": "매도 가능한 전략 보유 수량이 없습니다"},
            )
        return OrderPlan(prepared.sellable, price)
    price = entry_limit_price(
        reference, entry_slippage(), limits[1] if limits else None, prepared.market, day
    )
    if strategy is None:
        return OrderPlan(
            0, price, {"code": "no_config", "message": f"전략 {signal.strategy} 설정이 없습니다"}
        )
    room = strategy.budget_krw - prepared.budget_used
    per_entry = strategy.params.get("entry_krw") if strategy.params else None
    amount = min(room, int(per_entry)) if per_entry else room
    # Sized under the risk limits (max order value, weight per stock), not refused by them; the
    # pre-trade check still has the last word.
    if prepared.max_order_krw is not None:
        amount = min(amount, prepared.max_order_krw)
    if prepared.weight_room_krw is not None:
        amount = min(amount, prepared.weight_room_krw)
    quantity = max(amount, 0) // price
    if quantity <= 0 and prepared.max_order_krw is not None and prepared.max_order_krw < price:
        return OrderPlan(
            0,
            price,
            {
                "code": "order_value",
                "message": f"최대 주문금액 {prepared.max_order_krw:,}원 < 1주 {price:,}원",
            },
        )
    if quantity <= 0 and prepared.weight_room_krw is not None and prepared.weight_room_krw < price:
        return OrderPlan(
            0,
            price,
            {
                "code": "weight",
                "message": f"종목당 비중 한도까지 남은 {prepared.weight_room_krw:,}원 < 1주 {price:,}원",
            },
        )
    if quantity <= 0:
        return OrderPlan(
            0,
            price,
            {
                "code": "budget",
                "message": f"전략 예산 부족: 남은 {max(room, 0):,}원 < 1주 {price:,}원",
            },
        )
    return OrderPlan(quantity, price)
