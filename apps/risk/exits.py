"""The exit rules on live prices, as one pure function: `evaluate(position, price, now, close, policy)`.

Framework-free (no Django, no database, no broker): the realtime risk handler calls it on every tick of a
held stock and from its exchange-clock timer, and a backtest can call it on bars. Rules, checked in this
order (the first that applies is the decision):

1. stop-loss: price ≤ avg × (1 + stop_loss_pct/100) (stop_loss_pct is negative: −3 → 97% of avg);
2. trailing stop: price ≤ high × (1 − trailing_stop_pct/100), `high` = the highest trade price since
   entry (the stop follows the price up, never down);
3. take-profit: price ≥ avg × (1 + take_profit_pct/100);
4. time exit: now ≥ close − exit_before_close_minutes (the regular session's close of the day, from the
   KRX calendar: 15:30, 16:30 on a 수능 day), while the session has not closed.

Boundaries: a price exactly on a threshold triggers (≤ / ≥); the time exit fires at the threshold moment
itself and not after the close (nothing can be sold then). Thresholds are compared in Decimal against the
integer KRW price, never in float.

`exit_limit_price` is the marketable limit price an exit is sent at: `slippage_pct` below the reference
price, rounded up onto the tick grid, never below the day's lower price limit (an order outside the limits
is refused by the exchange).

`effective_stop` is the price the positions page, the overview and the API show as the stop (손절가):
the highest price on the KRX tick grid at which `evaluate` sells by the stop-loss or the trailing stop,
i.e. max(stop-loss threshold, trailing threshold of the high since entry) rounded down onto the grid.
A trade at it triggers the exit; a trade one tick above it does not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

import krx

from .policy import ExitPolicy

__all__ = [
    "ExitDecision",
    "ExitKind",
    "HeldPosition",
    "chase_due",
    "effective_stop",
    "evaluate",
    "exit_limit_price",
    "stop_level",
    "stop_threshold",
    "take_profit_threshold",
    "time_exit_at",
    "trailing_high",
    "trailing_threshold",
]

HUNDRED = Decimal(100)


class ExitKind(StrEnum):
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    TAKE_PROFIT = "take_profit"
    TIME_EXIT = "time_exit"


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """What the evaluator needs of a position. `high`: the highest trade price since entry (None: not
    known yet; the evaluator then uses max(avg, price))."""

    code: str
    quantity: int
    avg_price: Decimal
    high: int | None = None
    entry_time: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ExitDecision:
    kind: ExitKind
    reason: str  # Korean, for the order's journal and the trader
    price: int  # the price that triggered it
    threshold: Decimal | None  # the price threshold crossed (None: the time exit)


def stop_threshold(avg: Decimal, policy: ExitPolicy) -> Decimal:
    return avg * (1 + policy.stop_loss_pct / HUNDRED)


def take_profit_threshold(avg: Decimal, policy: ExitPolicy) -> Decimal | None:
    if policy.take_profit_pct is None:
        return None
    return avg * (1 + policy.take_profit_pct / HUNDRED)


def trailing_threshold(high: int, policy: ExitPolicy) -> Decimal | None:
    if policy.trailing_stop_pct is None:
        return None
    return Decimal(high) * (1 - abs(policy.trailing_stop_pct) / HUNDRED)


def trailing_high(high: int | None, avg: Decimal, price: int = 0) -> int:
    """The high the trailing stop follows: the highest trade since entry, never under the average price
    (nor under `price`, the trade being evaluated)."""
    return max(high or 0, price, int(avg))


def stop_level(avg: Decimal, high: int | None, policy: ExitPolicy) -> Decimal:
    """The price at or below which a trade sells by the stop-loss or the trailing stop (a trade above
    the high moves the high, and then the trailing threshold stays under that trade)."""
    stop = stop_threshold(avg, policy)
    trail = trailing_threshold(trailing_high(high, avg), policy)
    return stop if trail is None else max(stop, trail)


def effective_stop(
    avg: Decimal, high: int | None, policy: ExitPolicy, market: str, day: dt.date
) -> int | None:
    """The stop shown for a position: the highest tick-grid price ≤ `stop_level` (None: nothing held at a
    price, or a level under the smallest price)."""
    if avg <= 0:
        return None
    level = int(stop_level(avg, high, policy).to_integral_value(rounding=ROUND_FLOOR))
    if level < 1:
        return None
    if market not in krx.Market.__members__:
        market = krx.Market.KOSPI.value
    price = krx.tick_round(level, market, day, "down")
    return price if price <= level else None


def time_exit_at(close: dt.datetime | None, policy: ExitPolicy) -> dt.datetime | None:
    if close is None or policy.exit_before_close_minutes is None:
        return None
    return close - dt.timedelta(minutes=policy.exit_before_close_minutes)


def _won(value: Decimal) -> str:
    return f"{value.to_integral_value(rounding=ROUND_CEILING):,}"


def evaluate(
    position: HeldPosition,
    price: int | None,
    now: dt.datetime,
    close: dt.datetime | None,
    policy: ExitPolicy,
) -> ExitDecision | None:
    """The exit the policy asks for at `price` (the last trade) and `now` (the exchange's time), or None.
    `close` is the regular session's close of `now`'s trading day (None: not a trading day). With
    `price` None only the time exit can fire (the timer without ticks)."""
    if position.quantity <= 0 or position.avg_price <= 0:
        return None
    avg = position.avg_price
    if price is not None and price > 0:
        stop = stop_threshold(avg, policy)
        if price <= stop:
            return ExitDecision(
                ExitKind.STOP_LOSS,
                f"손절: 현재가 {price:,}원 ≤ 손절가 {_won(stop)}원 "
                f"(평균매입가 {avg:,.0f}원의 {policy.stop_loss_pct}%)",
                price,
                stop,
            )
        high = trailing_high(position.high, avg, price)
        trail = trailing_threshold(high, policy)
        if trail is not None and price <= trail:
            return ExitDecision(
                ExitKind.TRAILING_STOP,
                f"추적 손절: 현재가 {price:,}원 ≤ {_won(trail)}원 "
                f"(진입 후 최고가 {high:,}원의 -{abs(policy.trailing_stop_pct or 0)}%)",
                price,
                trail,
            )
        target = take_profit_threshold(avg, policy)
        if target is not None and price >= target:
            return ExitDecision(
                ExitKind.TAKE_PROFIT,
                f"익절: 현재가 {price:,}원 ≥ 목표가 {_won(target)}원 "
                f"(평균매입가의 +{policy.take_profit_pct}%)",
                price,
                target,
            )
    at = time_exit_at(close, policy)
    if at is not None and close is not None and at <= now < close:
        kst = close.astimezone(krx.KST)
        return ExitDecision(
            ExitKind.TIME_EXIT,
            f"장 마감 {policy.exit_before_close_minutes}분 전 청산 (마감 {kst:%H:%M})",
            price or 0,
            None,
        )
    return None


def exit_limit_price(
    reference: int,
    slippage_pct: Decimal,
    lower_limit: int | None,
    market: str,
    day: dt.date,
) -> int:
    """A marketable sell limit: `slippage_pct` below `reference`, rounded up onto the tick grid (never
    sells below the cap), clamped to the day's lower limit (never outside the limits)."""
    raw = (Decimal(reference) * (1 - slippage_pct / HUNDRED)).to_integral_value(
        rounding=ROUND_CEILING
    )
    price = krx.tick_round(int(raw), market, day, "up")
    if lower_limit is not None:
        price = max(price, lower_limit)
    return max(price, 1)


def chase_due(
    limit_price: int | None, price: int, resting_seconds: float, chase_seconds: float
) -> bool:
    """Is a resting exit (sell limit `limit_price`, working for `resting_seconds`) to be chased — cancelled
    and its remainder sent again at the new price — now that the market trades at `price`? Yes once the
    market is under its limit and it has rested `RISK_EXIT_CHASE_SECONDS`. One rule for the realtime risk
    handler (monotonic seconds) and the tape-mode backtest (the exchange's seconds)."""
    return limit_price is not None and price < limit_price and resting_seconds >= chase_seconds
