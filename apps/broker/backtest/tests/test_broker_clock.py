"""The backtest broker's clock and its event switch: a bar moves the clock to its end in whatever
zone it comes in (converted to Seoul time only when asked), the trading day and the time order are
checked in the bar's own zone, and `events=False` builds no events while the fills and order states
stay complete."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.broker.backtest import BacktestBroker, BacktestOrderEvent
from apps.broker.contract import Instrument, MinuteBar, OrderStatus, OrderType, Side
from krx import KST, Market

CODE = "005930"
DAY = dt.date(2025, 6, 2)  # a Monday


def kst(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(int(hhmm[:2]), int(hhmm[2:])), tzinfo=KST)


def make(**kw: bool) -> BacktestBroker:
    inst = Instrument(CODE, "삼성전자", Market.KOSPI, "KOSPI", 5_000_000_000, None, 70_000, "", "")
    b = BacktestBroker([inst], kst("0800"), slippage_ticks=0, **kw)
    b.begin_day(DAY, {CODE: 70_000})
    return b


def bar(end: dt.datetime, o: int = 70_000, v: int = 10_000) -> MinuteBar:
    return MinuteBar(CODE, end, o, o + 200, o - 200, o + 100, v)


@pytest.mark.parametrize("zone", [KST, dt.UTC, dt.timezone(dt.timedelta(hours=-5))])
def test_a_bar_in_any_zone_moves_the_clock_in_seoul_time(zone: dt.tzinfo) -> None:
    b = make()
    b.on_bar(bar(kst("0901").astimezone(zone)))
    now = b.now()
    assert now == kst("0901") and now.tzinfo is KST
    b.place_order(Side.BUY, CODE, 10, OrderType.MARKET)
    b.on_bar(bar(kst("0902").astimezone(zone), o=70_100))
    (fill,) = b.fill_log
    assert fill.time == kst("0902") and fill.time.tzinfo is KST and fill.price == 70_100
    assert b.orders[fill.order_no].time == kst("0901")  # placed after the 09:01 bar


@pytest.mark.parametrize("zone", [KST, dt.UTC])
def test_the_trading_day_and_the_time_order_are_checked_in_the_bars_zone(zone: dt.tzinfo) -> None:
    b = make()
    # Midnight Seoul time that ends the day is 15:00 UTC of the same date: outside in either zone.
    with pytest.raises(ValueError, match="outside the trading day"):
        b.on_bar(bar(kst("0000", DAY + dt.timedelta(days=1)).astimezone(zone)))
    with pytest.raises(ValueError, match="outside the trading day"):
        b.on_bar(bar(kst("2359", DAY - dt.timedelta(days=1)).astimezone(zone)))
    b.on_bar(bar(kst("0905").astimezone(zone)))
    with pytest.raises(ValueError, match="time order"):
        b.on_bar(bar(kst("0904").astimezone(zone)))
    b.on_bar(bar(kst("0905").astimezone(dt.UTC)))  # the same moment in another zone is in order
    b.on_bar(bar(kst("0906")))
    with pytest.raises(ValueError, match="time order"):
        b.on_bar(bar(kst("0905").astimezone(dt.UTC)))
    b.begin_day(DAY + dt.timedelta(days=1), {CODE: 70_100})
    b.on_bar(bar(kst("0901", DAY + dt.timedelta(days=1)).astimezone(zone)))
    assert b.now() == kst("0901", DAY + dt.timedelta(days=1))


def test_a_naive_bar_is_refused() -> None:
    b = make()
    with pytest.raises(ValueError, match="outside the trading day"):
        b.on_bar(bar(dt.datetime(2025, 6, 2, 9, 1)))


def test_a_bar_before_begin_day_is_refused() -> None:
    inst = Instrument(CODE, "삼성전자", Market.KOSPI, "KOSPI", 5_000_000_000, None, 70_000, "", "")
    b = BacktestBroker([inst], kst("0800"))
    with pytest.raises(ValueError, match="outside the trading day"):
        b.on_bar(bar(kst("0901")))


def run_day(b: BacktestBroker) -> list[object]:
    got: list[object] = []
    b.place_order(Side.BUY, CODE, 800, OrderType.MARKET)  # more than one bar's cap (500)
    got += b.on_bar(bar(kst("0901"), v=5_000))
    got += b.on_bar(bar(kst("0902"), o=70_100, v=5_000))
    b.place_order(Side.SELL, CODE, 800, OrderType.LIMIT, 70_300)
    got += b.on_bar(bar(kst("0903"), o=70_200, v=5_000))
    got += b.end_day()
    return got


def test_without_events_the_fills_and_the_order_states_are_the_same() -> None:
    with_events, without = make(), make(events=False)
    emitted, none = run_day(with_events), run_day(without)
    assert none == [] and without.drain() == []
    fills = [e for e in emitted if type(e) is BacktestOrderEvent and e.unit_fill_quantity]
    assert [(e.unit_fill_price, e.unit_fill_quantity) for e in fills] == [
        (70_000, 500), (70_100, 300), (70_300, 500)
    ]  # fmt: skip
    assert without.fill_log == with_events.fill_log
    assert [without.order_status(n) for n in without.orders] == [
        with_events.order_status(n) for n in with_events.orders
    ]
    sell = without.order_status("0000002")
    assert sell is not None and sell.status is OrderStatus.CANCELLED and sell.filled_quantity == 500
    assert without.holdings() == with_events.holdings()


def test_a_subscriber_gets_events_even_when_they_are_off() -> None:
    b = make(events=False)
    seen: list[object] = []
    b.subscribe(seen.append)
    returned, on = run_day(b), make()  # with a subscriber, everything is as with events on
    assert returned == run_day(on) and seen == on.drain() == b.drain()
    assert sum(1 for e in seen if type(e) is BacktestOrderEvent and e.unit_fill_quantity) == 3


def test_an_unknown_code_is_refused_and_a_code_without_a_base_starts_from_its_open() -> None:
    other = Instrument(
        "000660", "SK하이닉스", Market.KOSPI, "KOSPI", 700_000_000, None, None, "", ""
    )
    inst = Instrument(CODE, "삼성전자", Market.KOSPI, "KOSPI", 5_000_000_000, None, 70_000, "", "")
    b = BacktestBroker([inst, other], kst("0800"))
    b.begin_day(DAY, {CODE: 70_000})  # no base for 000660, and no previous close either
    with pytest.raises(ValueError, match="unknown code"):
        b.on_bar(MinuteBar("999999", kst("0901"), 1_000, 1_000, 1_000, 1_000, 10))
    assert "999999" not in b.days and b.now() == kst("0800")
    b.on_bar(MinuteBar("000660", kst("0901"), 200_000, 201_000, 199_500, 200_500, 10))
    assert b.days["000660"].base == 200_000 and b.days["000660"].limits == (140_000, 260_000)
