"""The in-process backtest broker: fills within a bar's range only, the participation cap across
bars, no fill through a locked limit, the dated sell tax, and P&L recomputed from the fills to the
won. Table-driven where the rule is a table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.broker.backtest import BacktestBroker, BacktestOrderEvent
from apps.broker.contract import (
    Instrument,
    InvalidRequest,
    MinuteBar,
    OrderRejected,
    OrderStatus,
    OrderType,
    Side,
)
from krx import KST, Market, commission, is_on_tick, sell_tax

CODE = "005930"
KOSDAQ_CODE = "035720"


def instrument(code: str = CODE, market: Market = Market.KOSPI, prev: int = 70_000) -> Instrument:
    return Instrument(code, code, market, market.value, 5_000_000_000, None, prev, "", "")


def at(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(int(hhmm[:2]), int(hhmm[2:])), tzinfo=KST)


def bar(
    day: dt.date, hhmm: str, o: int, h: int, lo: int, c: int, v: int, code: str = CODE
) -> MinuteBar:
    return MinuteBar(code, at(day, hhmm), o, h, lo, c, v)


def broker(day: dt.date, **kw: object) -> BacktestBroker:
    b = BacktestBroker(
        [instrument(), instrument(KOSDAQ_CODE, Market.KOSDAQ, 50_000)],
        at(day, "0800"),
        cash=kw.pop("cash", 100_000_000),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    b.begin_day(day, {CODE: 70_000, KOSDAQ_CODE: 50_000})
    return b


DAY = dt.date(2025, 6, 2)


@pytest.mark.parametrize(
    ("side", "order_type", "price", "ohlc", "expected"),
    [
        # limit buy: fills at the limit when the bar trades down to it, at the open if it opened below
        (Side.BUY, OrderType.LIMIT, 69_900, (70_000, 70_100, 69_800, 70_000), 69_900),
        (Side.BUY, OrderType.LIMIT, 70_200, (70_000, 70_300, 69_900, 70_100), 70_000),
        (Side.BUY, OrderType.LIMIT, 69_700, (70_000, 70_100, 69_800, 70_000), None),  # not reached
        # limit sell: symmetric
        (Side.SELL, OrderType.LIMIT, 70_100, (70_000, 70_100, 69_800, 70_000), 70_100),
        (Side.SELL, OrderType.LIMIT, 69_800, (70_000, 70_100, 69_800, 70_000), 70_000),
        (Side.SELL, OrderType.LIMIT, 70_200, (70_000, 70_100, 69_800, 70_000), None),
        # market: the open one tick against us, inside the bar's range
        (Side.BUY, OrderType.MARKET, None, (70_000, 70_300, 69_900, 70_100), 70_100),
        (Side.SELL, OrderType.MARKET, None, (70_000, 70_300, 69_900, 70_100), 69_900),
        (
            Side.BUY,
            OrderType.MARKET,
            None,
            (70_000, 70_000, 69_900, 69_900),
            70_000,
        ),  # capped at high
        (Side.SELL, OrderType.MARKET, None, (70_000, 70_100, 70_000, 70_100), 70_000),  # at low
    ],
)
def test_fill_prices_stay_inside_the_bar(
    side: Side,
    order_type: OrderType,
    price: int | None,
    ohlc: tuple[int, ...],
    expected: int | None,
) -> None:
    b = broker(DAY)
    if side is Side.SELL:
        b.place_order(Side.BUY, CODE, 10, OrderType.MARKET)
        b.on_bar(bar(DAY, "0901", 70_000, 70_000, 70_000, 70_000, 1_000))
    ack = b.place_order(side, CODE, 10, order_type, price)
    b.on_bar(bar(DAY, "0902", *ohlc, 1_000))  # type: ignore[arg-type]
    state = b.order_status(ack.order_no)
    assert state is not None
    if expected is None:
        assert state.filled_quantity == 0 and state.status is OrderStatus.ACCEPTED
    else:
        assert (state.filled_quantity, state.average_fill_price) == (10, expected)
        assert ohlc[2] <= expected <= ohlc[1]


def test_an_order_never_fills_on_the_bar_it_was_decided_on() -> None:
    b = broker(DAY)
    b.on_bar(bar(DAY, "0901", 70_000, 70_500, 69_000, 70_000, 1_000))
    ack = b.place_order(Side.BUY, CODE, 5, OrderType.LIMIT, 69_000)
    assert b.order_status(ack.order_no).filled_quantity == 0  # type: ignore[union-attr]
    b.on_bar(bar(DAY, "0902", 70_000, 70_100, 69_900, 70_000, 1_000))
    assert b.order_status(ack.order_no).filled_quantity == 0  # type: ignore[union-attr]
    assert b.minute_bars(CODE)[0].at == at(DAY, "0902")  # the broker serves nothing later


def test_the_participation_cap_spreads_a_fill_across_bars() -> None:
    b = broker(DAY, participation=Decimal("0.1"))
    first = b.place_order(Side.BUY, CODE, 250, OrderType.LIMIT, 70_000)
    second = b.place_order(Side.BUY, CODE, 50, OrderType.LIMIT, 70_100)  # better price: first
    events = b.on_bar(bar(DAY, "0901", 70_000, 70_000, 70_000, 70_000, 1_009))  # cap 100
    fills = [e for e in events if isinstance(e, BacktestOrderEvent) and e.unit_fill_quantity]
    assert [(e.order_no, e.unit_fill_quantity) for e in fills] == [
        (second.order_no, 50),
        (first.order_no, 50),
    ]
    b.on_bar(bar(DAY, "0902", 70_000, 70_000, 69_900, 69_900, 1_500))  # cap 150
    b.on_bar(bar(DAY, "0903", 70_000, 70_000, 69_900, 69_900, 2_000))  # cap 200, 50 wanted
    state = b.order_status(first.order_no)
    assert state is not None and state.filled_quantity == 250 and state.status is OrderStatus.FILLED
    executions = [f for f in b.fill_log if f.order_no == first.order_no]
    assert [f.qty for f in executions] == [50, 150, 50]


def test_no_fill_through_a_locked_limit() -> None:
    b = broker(DAY)
    upper, lower = 91_000, 49_000  # base 70,000 ±30 % on the grid
    q = b.quote(CODE)
    assert (q.upper_limit, q.lower_limit) == (upper, lower)
    buy = b.place_order(Side.BUY, CODE, 10, OrderType.LIMIT, upper)
    b.on_bar(bar(DAY, "0901", upper, upper, upper, upper, 100_000))
    assert b.order_status(buy.order_no).filled_quantity == 0  # type: ignore[union-attr]
    b.on_bar(bar(DAY, "0902", upper, upper, 90_900, upper, 100_000))  # the lock broke
    assert b.order_status(buy.order_no).filled_quantity == 10  # type: ignore[union-attr]
    sell = b.place_order(Side.SELL, CODE, 10, OrderType.MARKET)
    b.on_bar(bar(DAY, "0903", lower, lower, lower, lower, 100_000))
    assert b.order_status(sell.order_no).filled_quantity == 0  # type: ignore[union-attr]
    with pytest.raises(OrderRejected):
        b.place_order(Side.BUY, CODE, 1, OrderType.LIMIT, upper + 1_000)  # outside the limits


@pytest.mark.parametrize(
    ("price", "error"),
    [(70_050, OrderRejected), (0, InvalidRequest), (None, InvalidRequest)],
)
def test_bad_orders_are_refused_and_change_nothing(price: int | None, error: type) -> None:
    b = broker(DAY)
    before = b.balance()
    with pytest.raises(error):
        b.place_order(Side.BUY, CODE, 1, OrderType.LIMIT, price)
    with pytest.raises(InvalidRequest):
        b.place_order(Side.BUY, CODE, 1, OrderType.LIMIT_IOC, 70_000)
    with pytest.raises(OrderRejected):
        b.place_order(Side.SELL, CODE, 1, OrderType.LIMIT, 70_000)  # nothing to sell
    with pytest.raises(OrderRejected):
        b.place_order(Side.BUY, CODE, 10_000, OrderType.LIMIT, 70_000)  # 700M > cash
    assert b.balance() == before and b.open_orders() == [] and b.drain() == []


def round_trip(
    day: dt.date, code: str = CODE, buy: int = 70_000, sell: int = 71_000
) -> BacktestBroker:
    b = BacktestBroker(
        [instrument(), instrument(KOSDAQ_CODE, Market.KOSDAQ, 70_000)], at(day, "0800")
    )
    b.begin_day(day, {code: 70_000})
    b.place_order(Side.BUY, code, 100, OrderType.LIMIT, buy)
    b.on_bar(bar(day, "0901", buy, buy, buy, buy, 10_000, code))
    b.place_order(Side.SELL, code, 100, OrderType.LIMIT, sell)
    b.on_bar(bar(day, "0902", sell, sell, sell, sell, 10_000, code))
    return b


@pytest.mark.parametrize(
    ("day", "code", "tax"),
    [
        (dt.date(2025, 12, 30), CODE, 10_650),  # 7,100,000 × 0.15 %
        (dt.date(2026, 1, 2), CODE, 14_200),  # × 0.20 % from 2026
        (dt.date(2024, 6, 3), CODE, 12_780),  # × 0.18 % in 2024
        (dt.date(2025, 12, 30), KOSDAQ_CODE, 10_650),
        (dt.date(2026, 1, 2), KOSDAQ_CODE, 14_200),
    ],
)
def test_the_sell_tax_follows_the_trade_date(day: dt.date, code: str, tax: int) -> None:
    b = round_trip(day, code)
    [sell, buy] = b.fills()
    assert (sell.side, sell.tax, buy.tax) == (Side.SELL, tax, 0)
    market = Market.KOSPI if code == CODE else Market.KOSDAQ
    assert sell.tax == sell_tax(7_100_000, day, market)  # krx's table, not a copy of it
    assert b.realized_pnl() == 7_100_000 - 7_000_000 - 1_050 - 1_065 - tax


# ------------------------------------------------------------------ P&L from the fills
flows = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 400),
        st.one_of(st.none(), st.integers(-5, 5)),  # None = market, else ticks from the last close
        st.integers(-4, 4),  # the next bar's move, in ticks
        st.integers(0, 3_000),  # its volume
    ),
    min_size=1,
    max_size=40,
)


@given(flow=flows, day_offset=st.integers(0, 800))
@settings(max_examples=150, deadline=None)
def test_pnl_recomputed_from_the_fills_to_the_won(
    flow: list[tuple[Side, int, int | None, int, int]], day_offset: int
) -> None:
    day = dt.date(2024, 1, 2) + dt.timedelta(days=day_offset)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    b = broker(day, cash=30_000_000, participation=Decimal("0.25"))
    minute = at(day, "0901")
    price = 70_000
    for side, qty, ticks, move, volume in flow:
        try:
            if ticks is None:
                b.place_order(side, CODE, qty, OrderType.MARKET)
            else:
                b.place_order(side, CODE, qty, OrderType.LIMIT, price + 100 * ticks)
        except OrderRejected:
            pass
        nxt = price + 100 * move
        hi, lo = max(price, nxt) + 100, min(price, nxt) - 100
        seen = len(b.fill_log)
        b.on_bar(MinuteBar(CODE, minute, price, hi, lo, nxt, volume))
        for f in b.fill_log[seen:]:
            assert lo <= f.price <= hi and is_on_tick(f.price, Market.KOSPI, day)
        minute += dt.timedelta(minutes=1)
        price = nxt
    b.end_day()
    # Recompute from the executions alone: per order, fees on the cumulative amount (krx),
    # average-cost P&L on sells.
    per_order: dict[str, list] = {}
    for f in b.fill_log:
        per_order.setdefault(f.order_no, []).append(f)
    for order_fills in per_order.values():
        amount = sum(f.qty * f.price for f in order_fills)
        assert sum(f.commission for f in order_fills) == commission(amount)
        sells = order_fills[0].side.value == "sell"
        expected_tax = sell_tax(amount, day, Market.KOSPI) if sells else 0
        assert sum(f.tax for f in order_fills) == expected_tax
    qty = cost = buy_comm = realized = 0
    cash = 30_000_000
    for f in b.fill_log:
        amount = f.qty * f.price
        if f.side.name == "BUY":
            qty, cost, buy_comm = qty + f.qty, cost + amount, buy_comm + f.commission
            cash -= amount + f.commission
        else:
            out_cost = cost if f.qty >= qty else cost * f.qty // qty
            out_comm = buy_comm if f.qty >= qty else buy_comm * f.qty // qty
            realized += amount - out_cost - out_comm - f.commission - f.tax
            qty, cost, buy_comm = qty - f.qty, cost - out_cost, buy_comm - out_comm
            cash += amount - f.commission - f.tax
    assert b.realized_pnl() == realized
    bal = b.balance()
    assert bal.cash == cash
    held = sum(h.quantity for h in b.holdings())
    assert held == qty
    assert cash + cost + buy_comm - realized == 30_000_000  # the ledger's invariant
    assert b.open_orders() == []


def test_amend_cancel_and_expiry_keep_cash_and_events_straight() -> None:
    b = broker(DAY, cash=10_000_000)
    seen: list = []
    b.subscribe(seen.append)
    ack = b.place_order(Side.BUY, CODE, 100, OrderType.LIMIT, 69_000)
    held = b.balance().cash - b.balance().orderable
    assert held == 6_900_000 + 1_035  # amount + commission rounded up
    with pytest.raises(OrderRejected):
        b.amend_order(ack.order_no, CODE, 0, 99_000)  # outside the limits: nothing changes
    assert b.order_status(ack.order_no).remaining == 100  # type: ignore[union-attr]
    amended = b.amend_order(ack.order_no, CODE, 40, 69_500)
    assert b.order_status(ack.order_no).remaining == 60  # type: ignore[union-attr]
    new = b.order_status(amended.order_no)
    assert new is not None and (new.quantity, new.remaining) == (40, 40)
    [accepted] = [e for e in seen if e.order_no == amended.order_no]
    assert (accepted.status, accepted.original_order_no) == (OrderStatus.ACCEPTED, ack.order_no)
    whole = b.place_order(Side.BUY, CODE, 3, OrderType.LIMIT, 68_000)
    b.amend_order(whole.order_no, CODE, 0, 68_100)
    assert b.order_status(whole.order_no).status is OrderStatus.REPLACED  # type: ignore[union-attr]
    b.on_bar(bar(DAY, "0901", 69_600, 69_700, 69_500, 69_600, 10_000))
    assert b.order_status(amended.order_no).status is OrderStatus.FILLED  # type: ignore[union-attr]
    cancel = b.cancel_order(ack.order_no, CODE, 10)
    assert cancel.quantity == 10 and b.order_status(ack.order_no).remaining == 50  # type: ignore[union-attr]
    expired = b.end_day()
    assert [e.status for e in expired] == [OrderStatus.CANCELLED] * 2
    assert b.open_orders() == []
    bal = b.balance()
    assert bal.cash == bal.orderable == 10_000_000 - 40 * 69_500 - commission(40 * 69_500)
    assert b.order_status(ack.order_no).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert seen and all(e.day == DAY for e in seen)
    [fill] = b.fills()
    assert (fill.order_no, fill.fill_quantity, fill.fill_price, fill.fee) == (
        amended.order_no, 40, 69_500, commission(40 * 69_500)
    )  # fmt: skip
    b.begin_day(dt.date(2025, 6, 3))  # the base is the last close: 69,600
    assert b.quote(CODE).base_price == 69_600
    with pytest.raises(ValueError):
        b.on_bar(bar(DAY, "1000", 1, 1, 1, 1, 1))  # yesterday's bar
