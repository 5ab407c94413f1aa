"""A missing or garbled price or rate is `None` (or the row is dropped, or the answer is an error),
never 0: table tests per TR parser and property tests for the decoders and the tick event."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.broker.contract import BrokerUnavailable, OrderStatus, RankingKind
from apps.broker.kiwoom import mapping, parse
from apps.broker.kiwoom import normalize as n
from apps.broker.kiwoom.events import KiwoomBalanceEvent, KiwoomOrderEvent, KiwoomTick

DAY = date(2026, 11, 20)
MISSING = ["", "   ", "0", "+0", "-0000000", "abc", "--", "N/A", "1.5e", "NaN", "Infinity"]


@pytest.mark.parametrize("raw", MISSING)
def test_missing_price_is_none(raw: str) -> None:
    assert n.price(raw) is None


@pytest.mark.parametrize("raw", ["", " ", "abc", "NaN", "Infinity", "+-1"])
def test_missing_rate_is_none(raw: str) -> None:
    assert n.rate(raw) is None
    assert n.rate_x100(raw) is None


@pytest.mark.parametrize("raw", ["abc", "1.2.3"])
def test_garbled_amount_is_an_error(raw: str) -> None:
    with pytest.raises(BrokerUnavailable):
        n.signed_int(raw)


@given(st.text(max_size=12))
def test_price_is_positive_or_none(raw: str) -> None:
    value = n.price(raw)
    assert value is None or (isinstance(value, int) and value > 0)


@given(st.text(max_size=12))
def test_rate_is_finite_or_none(raw: str) -> None:
    value = n.rate(raw)
    assert value is None or (isinstance(value, Decimal) and value.is_finite())


PRICE_FIDS = st.sampled_from(["", "0", "+0", "x", "-", "+70000", "-20800", "000000"])


@given(
    st.fixed_dictionaries(
        dict.fromkeys(("10", "16", "17", "18", "27", "28", "12", "15", "20"), PRICE_FIDS)
    )
)
def test_tick_prices_are_never_zero(values: dict[str, str]) -> None:
    tick = KiwoomTick("005930", values, DAY)
    for price in (tick.price, tick.open, tick.high, tick.low, tick.best_ask, tick.best_bid):
        assert price is None or price > 0
    assert tick.change_rate is None or tick.change_rate.is_finite()


def test_quote_without_prices() -> None:
    q = parse.quote({"stk_cd": "005930", "cur_prc": "", "open_pric": "0", "high_pric": "x",
                     "low_pric": "", "base_pric": "", "upl_pric": "0", "lst_pric": "",
                     "flu_rt": "", "trde_qty": "0"})  # fmt: skip
    assert (q.price, q.open, q.high, q.low) == (None, None, None, None)
    assert (q.base_price, q.upper_limit, q.lower_limit, q.change_rate) == (None, None, None, None)


def test_bars_without_prices_are_dropped() -> None:
    minute = {"stk_min_pole_chart_qry": [
        {"cur_prc": "", "open_pric": "0", "high_pric": "0", "low_pric": "0",
         "cntr_tm": "20250917132000", "trde_qty": "0"},
        {"cur_prc": "-78800", "open_pric": "-78850", "high_pric": "-78900", "low_pric": "-78800",
         "cntr_tm": "20250917131900", "trde_qty": "7913"},
    ]}  # fmt: skip
    assert [b.close for b in parse.minute_bars("005930", minute)] == [78800]
    daily = {"stk_dt_pole_chart_qry": [
        {"dt": "20250917", "cur_prc": "70000", "open_pric": "", "high_pric": "70500",
         "low_pric": "69000", "trde_qty": "1", "trde_prica": "1"},
    ]}  # fmt: skip
    assert parse.daily_bars("005930", daily) == []


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (RankingKind.TRADING_VALUE, "trde_prica_upper"),
        (RankingKind.CHANGE_RATE, "pred_pre_flu_rt_upper"),
    ],
)
def test_ranking_row_without_price(kind: RankingKind, key: str) -> None:
    body = {key: [{"stk_cd": "005930", "cur_prc": "", "flu_rt": "-", "now_trde_qty": "1"}]}
    (row,) = parse.rankings(kind, body)
    assert (row.price, row.change_rate) == (None, None)


def test_account_rows_without_prices() -> None:
    (h,) = parse.holdings({"acnt_evlt_remn_indv_tot": [
        {"stk_cd": "A005930", "rmnd_qty": "3", "pur_pric": "", "cur_prc": "0", "prft_rt": ""}]})  # fmt: skip
    assert (h.average_price, h.current_price, h.return_rate) == (None, None, None)
    assert parse.balance({}, {"tot_prft_rt": ""}).total_return_rate is None
    (o,) = parse.open_orders({"oso": [
        {"ord_no": "1", "ord_stt": "접수", "ord_qty": "1", "ord_pric": "0", "oso_qty": "1",
         "io_tp_nm": "+매수", "trde_tp": "시장가"}]}, DAY)  # fmt: skip
    assert o.price is None and o.status is OrderStatus.ACCEPTED
    (f,) = parse.fills({"cntr": [
        {"ord_no": "2", "ord_stt": "접수", "ord_qty": "1", "ord_pric": "0", "cntr_pric": "0",
         "cntr_qty": "0", "oso_qty": "1", "io_tp_nm": "-매도"}]}, DAY)  # fmt: skip
    assert (f.order_price, f.fill_price) == (None, None)
    (hit,) = parse.condition_hits([{"9001": "A005930", "10": "", "12": "", "11": ""}])
    assert (hit.price, hit.change_rate) == (None, None)
    (inst,) = parse.instruments({"list": [{"code": "005930", "lastPrice": ""}]})
    assert inst.previous_close is None


def test_events_without_prices() -> None:
    order = KiwoomOrderEvent("005930", {"913": "접수", "901": "0", "910": "", "914": ""}, DAY)
    assert (order.price, order.fill_price, order.unit_fill_price) == (None, None, None)
    position = KiwoomBalanceEvent("005930", {"931": "", "10": "0", "307": ""}, DAY)
    assert (position.average_price, position.current_price, position.base_price) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("text", "remaining", "filled", "kind", "status"),
    [
        ("접수", 10, 0, "+매수", OrderStatus.ACCEPTED),
        ("체결", 6, 4, "+매수", OrderStatus.PARTIALLY_FILLED),
        ("체결", 0, 10, "-매도", OrderStatus.FILLED),
        ("접수", 6, 4, "+매수", OrderStatus.PARTIALLY_FILLED),
        ("확인", 10, 0, "+매수정정", OrderStatus.ACCEPTED),
        ("확인", 0, 0, "-매도취소", OrderStatus.CANCELLED),
        ("취소", 0, 0, "매수취소", OrderStatus.CANCELLED),
        ("거부", 10, 0, "+매수", OrderStatus.REJECTED),
        (" 체결 ", 0, 1, "", OrderStatus.FILLED),
        ("", 1, 0, "", OrderStatus.UNKNOWN),
        ("보류", 1, 0, "", OrderStatus.UNKNOWN),
    ],
)
def test_kiwoom_status_text_maps_to_the_enum(
    text: str, remaining: int, filled: int, kind: str, status: OrderStatus
) -> None:
    assert mapping.order_status(text, remaining=remaining, filled=filled, kind=kind) is status


@pytest.mark.parametrize("status", list(OrderStatus))
def test_built_order_event_status_round_trips(status: OrderStatus) -> None:
    from datetime import UTC, datetime

    from apps.broker.contract import Side
    from apps.broker.kiwoom.events import make_order_event

    if status in (OrderStatus.UNKNOWN, OrderStatus.REPLACED):
        return  # not representable in Kiwoom's text (REPLACED reads back as an amend's 확인)
    remaining = 0 if status in (OrderStatus.FILLED, OrderStatus.CANCELLED) else 5
    filled = {OrderStatus.FILLED: 10, OrderStatus.PARTIALLY_FILLED: 5}.get(status, 0)
    ev = make_order_event(
        "0000001", "005930", status, Side.BUY, 10, 70_000, remaining,
        datetime(2026, 11, 20, 1, tzinfo=UTC), filled_quantity=filled,
    )  # fmt: skip
    assert ev.status is status
