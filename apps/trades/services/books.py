"""Fills, positions and the trade log: the books, changed only by fills.

`fill_apply()` takes an order's CUMULATIVE filled quantity and amount as any source reports it (a 00
frame, the ka10075/ka10076 poll, reconciliation). A fill is the step from the order's last recorded
cumulative quantity to the new one, priced from the cumulative amounts; a report at or below what is
recorded is a no-op, so whichever source arrives first writes the fill and the rest change nothing.
In the same transaction (order row locked first, then the position row — the one lock order):
- the order's filled quantity, amount, average price and cumulative commission/tax (krx.fees, on the
  cumulative amount, rounded down to the won; each fill carries the step);
- the position (buys add amount and commission to the cost; sells release cost pro rata, the last
  share releasing all that is left, so a round trip's P&L is exactly Σ sells − Σ buys − fees − tax);
- the trade log row of a sell order (one row per exit order; a partial exit is its own row);
- the position's stop price (`Position.stop_price`, what the risk engine's exit would sell at) when the
  fill opens it or moves its average price (`risk_hook.stop_price`; the exit policy is cached);
- the order's status (partially filled / filled);
- the risk engine's post-fill evaluation (under its per-account lock, taken before the position):
  a fill that breaches the daily loss limit halts new entries at once (`risk_hook.after_fill`);
- after commit: `order_filled` and `position_update` (`position_payload`) on /ws/live (seed 004 §8.3).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

import krx
from apps.core.live import publish_after_commit

from ..models import Fill as FillRow
from ..models import FillSource, Order, Position, Side, Trade
from ..models import OrderStatus as S
from . import risk_hook
from .state import can_transition, order_update_after_commit, transition

log = logging.getLogger(__name__)

__all__ = ["FillReport", "avg", "fill_apply", "fill_apply_report", "kst_date", "position_payload"]

CENT = Decimal("0.01")


def kst_date(at: dt.datetime) -> dt.date:
    return at.astimezone(krx.KST).date()


def avg(amount: int, quantity: int) -> Decimal:
    """An average price to the 0.01 won (display and the trade log; money itself stays integer)."""
    if quantity <= 0:
        return Decimal(0)
    return (Decimal(amount) / Decimal(quantity)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class FillReport:
    """What one source says about an order's executions so far."""

    cum_quantity: int
    cum_amount: int
    executed_at: dt.datetime
    source: str = FillSource.REALTIME
    execution_no: str | None = None


def fill_apply_report(order_id: object, report: FillReport) -> FillRow | None:
    return fill_apply(
        order_id,
        cum_quantity=report.cum_quantity,
        cum_amount=report.cum_amount,
        executed_at=report.executed_at,
        source=report.source,
        execution_no=report.execution_no,
    )


def fill_apply(
    order_id: object,
    *,
    cum_quantity: int,
    cum_amount: int,
    executed_at: dt.datetime | None = None,
    source: str = FillSource.REALTIME,
    execution_no: str | None = None,
) -> FillRow | None:
    """Record the step to `cum_quantity` of order `order_id`. Returns the new fill, or None when the
    report adds nothing (already recorded: the idempotent path)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        return fill_locked(
            order,
            cum_quantity=cum_quantity,
            cum_amount=cum_amount,
            executed_at=executed_at,
            source=source,
            execution_no=execution_no,
        )


def fill_locked(
    order: Order,
    *,
    cum_quantity: int,
    cum_amount: int,
    executed_at: dt.datetime | None = None,
    source: str = FillSource.REALTIME,
    execution_no: str | None = None,
) -> FillRow | None:
    """`fill_apply` for an order the caller locked inside its transaction."""
    executed_at = executed_at or timezone.now()
    if cum_quantity <= order.filled_quantity:
        return None
    # The risk engine's per-account lock before the position row (the one lock order): a pre-trade
    # check waits for this fill and sees its P&L.
    risk_hook.lock(order.account_no)
    if cum_quantity > order.quantity:
        raise ValueError(
            f"order {order.pk}: cumulative fill {cum_quantity} exceeds quantity {order.quantity}"
        )
    qty = cum_quantity - order.filled_quantity
    amount = cum_amount - order.filled_amount
    if amount <= 0:
        raise ValueError(f"order {order.pk}: cumulative amount {cum_amount} does not grow")
    commission, tax = krx.order_fees(
        cum_amount,
        sell=order.side == Side.SELL,
        trade_date=kst_date(executed_at),
        market=_market(order.market),
    )
    fill = FillRow.objects.create(
        order=order,
        cum_quantity=cum_quantity,
        quantity=qty,
        price=avg(amount, qty),
        amount=amount,
        cum_amount=cum_amount,
        execution_no=execution_no or None,
        source=source,
        commission=commission - order.commission,
        tax=tax - order.tax,
        executed_at=executed_at,
    )
    order.filled_quantity = cum_quantity
    order.filled_amount = cum_amount
    order.avg_fill_price = avg(cum_amount, cum_quantity)
    order.commission, order.tax = commission, tax
    if order.reference_price:
        order.slippage = _slippage(order)
    consumed = min(qty, order.reserved_quantity) if order.side == Side.SELL else 0
    order.reserved_quantity -= consumed
    position = _position_apply(order, fill, consumed)
    _advance_status(
        order,
        source,
        (
            "filled_quantity",
            "filled_amount",
            "avg_fill_price",
            "commission",
            "tax",
            "slippage",
            "reserved_quantity",
        ),
    )
    risk_hook.after_fill(order.account_no, executed_at)
    publish_after_commit("order_filled", fill_payload(order, fill))
    publish_after_commit("position_update", position_payload(position), key=position.code)
    return fill


def position_payload(position: Position) -> dict:
    """`position_update` after a change of the books (seed 004 §8.3 `{code, qty, pnl}`) with `stop`, the
    position's stop price (None: closed, or not known)."""
    return {
        "code": position.code,
        "qty": position.quantity,
        "pnl": position_pnl(position),
        "stop": position.stop_price,
    }


def fill_payload(order: Order, fill: FillRow) -> dict:
    """`order_filled` (seed 004 §8.3: `{order_id, code, price}`), with what the overview's feed shows:
    the fill's id, name, side, quantity and exchange time."""
    return {
        "order_id": str(order.pk),
        "code": order.code,
        "price": _int(fill.price),
        "fill_id": fill.pk,
        "name": order.name,
        "side": order.side,
        "qty": fill.quantity,
        "at": fill.executed_at,
    }


def position_pnl(position: Position) -> int | None:
    """The `pnl` of a `position_update`: the unrealised P&L before exit costs (the same figure the
    tick-driven pushes, the positions page and the API show); None while no price is known. Realised
    P&L lives in the trade log; a closed position's is 0."""
    if not position.quantity:
        return 0
    return position.unrealized_pnl


def _int(price: Decimal) -> int:
    return int(price.to_integral_value(rounding=ROUND_HALF_UP))


def _market(market: str) -> str:
    return market if market in krx.Market.__members__ else krx.Market.KOSPI


def _slippage(order: Order) -> int:
    """Adverse difference of the executed amount versus the reference price (positive = worse)."""
    expected = order.reference_price * order.filled_quantity
    diff = order.filled_amount - expected
    return diff if order.side == Side.BUY else -diff


def _advance_status(order: Order, source: str, fields: tuple[str, ...]) -> None:
    target = S.FILLED if order.filled_quantity >= order.quantity else S.PARTIALLY_FILLED
    if order.status == S.CANCEL_PENDING and target == S.PARTIALLY_FILLED:
        target = S.CANCEL_PENDING  # still waiting for the cancel's answer
    if order.status == target or can_transition(order.status, target):
        transition(order, target, cause=f"fill:{source}", also_save=fields)
    else:
        order.save(update_fields=[*fields, "updated_at"])
        order_update_after_commit(order)
        # A fill for an order we thought ended (e.g. cancelled, yet the exchange filled first):
        # the fill stands, the books follow it; the journal says so.
        log.warning("order %s: fill arrived in status %s", order.pk, order.status)


def _position_apply(order: Order, fill: FillRow, consumed_reservation: int) -> Position:
    position, _ = Position.objects.select_for_update().get_or_create(
        account_no=order.account_no,
        code=order.code,
        defaults={"name": order.name, "market": order.market},
    )
    opened = position.quantity == 0
    avg_before = position.avg_price
    if order.side == Side.BUY:
        _buy(position, order, fill)
    else:
        _sell(position, order, fill, consumed_reservation)
    if position.quantity and (opened or position.avg_price != avg_before):
        position.stop_price = risk_hook.stop_price(
            position, kst_date(fill.executed_at), opened=opened, previous=position.stop_price
        )
    position.save()
    return position


def _buy(position: Position, order: Order, fill: FillRow) -> None:
    if position.quantity == 0:
        position.entry_time = fill.executed_at
        position.strategy_tag = order.strategy_tag
        position.news_score = order.news_score
        position.volume_rank = order.volume_rank
        position.cost_amount = 0
        position.cost_fees = 0
    if order.name and not position.name:
        position.name = order.name
    position.quantity += fill.quantity
    position.cost_amount += fill.amount
    position.cost_fees += fill.commission
    position.avg_price = avg(position.cost_amount, position.quantity)


def _sell(position: Position, order: Order, fill: FillRow, consumed_reservation: int) -> None:
    held = position.quantity
    qty = fill.quantity
    if qty >= held:
        if qty > held:
            log.error(
                "sell fill of %d %s exceeds the %d held: reconciliation will flag it",
                qty,
                order.code,
                held,
            )
        cost, fees = position.cost_amount, position.cost_fees
    else:
        cost = position.cost_amount * qty // held
        fees = position.cost_fees * qty // held
    pnl = fill.amount - cost - fees - fill.commission - fill.tax
    position.quantity = max(held - qty, 0)
    position.reserved = max(min(position.reserved - consumed_reservation, position.quantity), 0)
    position.cost_amount -= cost
    position.cost_fees -= fees
    position.realized_pnl += pnl
    _trade_record(position, order, fill, qty=qty, cost=cost, fees=fees, pnl=pnl)
    if position.quantity == 0:
        position.avg_price = Decimal(0)
        position.entry_time = None
        position.stop_price = None
        position.cost_amount = position.cost_fees = 0
    else:
        position.avg_price = avg(position.cost_amount, position.quantity)


def _trade_record(
    position: Position, order: Order, fill: FillRow, *, qty: int, cost: int, fees: int, pnl: int
) -> Trade:
    trade = Trade.objects.select_for_update().filter(exit_order=order).first()
    if trade is None:
        trade = Trade(
            exit_order=order,
            account_no=order.account_no,
            code=order.code,
            name=order.name or position.name,
            side=Side.BUY,  # a long round trip; short selling is not traded
            entry_time=position.entry_time,
            strategy_tag=position.strategy_tag or order.strategy_tag,
            news_score=position.news_score,
            volume_rank=position.volume_rank,
            quantity=0,
            pnl=0,
            pnl_pct=Decimal(0),
            entry_price=Decimal(0),
            exit_price=Decimal(0),
        )
    trade.quantity += qty
    trade.entry_amount += cost
    trade.exit_amount += fill.amount
    trade.commission += fees + fill.commission
    trade.tax += fill.tax
    trade.pnl += pnl
    trade.entry_price = avg(trade.entry_amount, trade.quantity)
    trade.exit_price = avg(trade.exit_amount, trade.quantity)
    trade.pnl_pct = (
        (Decimal(trade.pnl) * 100 / Decimal(trade.entry_amount)).quantize(Decimal("0.0001"))
        if trade.entry_amount
        else Decimal(0)
    )
    trade.exit_time = fill.executed_at
    trade.date = kst_date(fill.executed_at)
    trade.closed_position = position.quantity == 0
    trade.save()
    return trade
