"""Normalisation against PROTOCOL.md's example payloads (§3.4, §4, §6, §7)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.broker.contract import (
    BalanceEvent,
    ConditionEvent,
    Direction,
    InstrumentWarning,
    OrderEvent,
    OrderStatus,
    RankingKind,
    Side,
    Tick,
)
from apps.broker.kiwoom import normalize as n
from apps.broker.kiwoom import parse
from apps.broker.kiwoom.errors import (
    AuthExpired,
    AuthFailed,
    BrokerUnavailable,
    InvalidRequest,
    OrderRejected,
    RateLimited,
    error_from_envelope,
)
from apps.broker.kiwoom.events import parse_real
from krx.markets import Market

DAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("raw", "price", "signed"),
    [
        ("+70000", 70000, 70000),
        ("-20800", 20800, -20800),
        ("20850", 20850, 20850),
        ("", None, 0),
        ("-00000000000084", 84, -84),
        ("000000000017534", 17534, 17534),
        ("-00000163958", 163958, -163958),
    ],
)
def test_prices_and_signed_numbers(raw: str, price: int, signed: int) -> None:
    assert n.price(raw) == price
    assert n.signed_int(raw) == signed


def test_rates_and_codes() -> None:
    assert n.rate("+0.57") == Decimal("0.57")
    assert n.rate("-43.8977") == Decimal("-43.8977")
    assert n.rate("") is None
    assert n.rate_x100("-00000130") == Decimal("-1.30")
    assert n.rate_x100("000001500") == Decimal("15.00")
    assert n.code("A005930") == "005930"
    assert n.code("Q500001") == "500001"
    assert n.code("005930") == "005930"
    assert n.code("AAPL") == "AAPL"
    assert n.code("005930_NX") == "005930_NX"
    assert n.code("A0001A0") == "0001A0"  # new-style alphanumeric KRX code
    assert n.code("J00104K") == "00104K"
    assert n.code("ATSLA12") == "ATSLA12"  # not a KRX code: left alone


def test_times_are_aware_kst() -> None:
    dt = n.kst_datetime("20250917132000")
    assert dt.tzinfo is not None
    assert dt.utcoffset().total_seconds() == 9 * 3600
    assert dt.astimezone(n.KST).hour == 13
    assert n.kst_date("00000000") is None
    assert n.hhmmss("154113") == time(15, 41, 13)
    at = n.kst_at(DAY, "094022")
    assert at == datetime(2026, 11, 20, 9, 40, 22, tzinfo=n.KST)
    with pytest.raises(ValueError, match="naive"):
        n.kst_today(datetime(2026, 1, 1))


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_padded_signed_roundtrip(value: int) -> None:
    raw = ("-" if value < 0 else "") + str(abs(value)).zfill(15 - (value < 0))
    assert n.signed_int(raw) == value
    assert n.price(("+" if value >= 0 else "-") + str(abs(value))) == (abs(value) or None)


KA10001 = {
    "stk_cd": "005930", "stk_nm": "삼성전자", "setl_mm": "12", "fav": "100", "cap": "7780",
    "flo_stk": "5969783", "crd_rt": "+0.08", "oyr_hgst": "+88800", "oyr_lwst": "-49900",
    "mac": "4477337", "high_pric": "+75400", "open_pric": "-74600", "low_pric": "-74200",
    "upl_pric": "+97300", "lst_pric": "-52500", "base_pric": "74900", "cur_prc": "+75000",
    "pre_sig": "2", "pred_pre": "+100", "flu_rt": "+0.13", "trde_qty": "8123456",
    "return_code": 0, "return_msg": "정상적으로 처리되었습니다",
}  # fmt: skip


def test_quote_ka10001() -> None:
    q = parse.quote(KA10001)
    assert (q.code, q.name, q.price, q.direction) == ("005930", "삼성전자", 75000, Direction.UP)
    assert (q.open, q.high, q.low) == (74600, 75400, 74200)
    assert (q.upper_limit, q.lower_limit, q.base_price) == (97300, 52500, 74900)
    assert q.change == 100 and q.change_rate == Decimal("0.13")
    assert q.volume == 8123456
    assert q.market_cap_krw == 4477337 * 100_000_000


def test_order_book_ka10004() -> None:
    body = {
        "bid_req_base_tm": "101523",
        "sel_2th_pre_bid": "+75100", "sel_2th_pre_req": "35213", "sel_2th_pre_req_pre": "+120",
        "sel_1th_pre_req_pre": "-300", "sel_fpr_req": "41020", "sel_fpr_bid": "+75000",
        "buy_fpr_bid": "74900", "buy_fpr_req": "102334", "buy_1th_pre_req_pre": "+1500",
        "buy_2th_pre_bid": "-74800", "buy_2th_pre_req": "88120", "buy_2th_pre_req_pre": "0",
        "tot_sel_req": "512330", "tot_buy_req": "801774",
    }  # fmt: skip
    book = parse.order_book("005930", body, DAY)
    assert [(lv.price, lv.quantity) for lv in book.asks] == [(75000, 41020), (75100, 35213)]
    assert [(lv.price, lv.quantity) for lv in book.bids] == [(74900, 102334), (74800, 88120)]
    assert (book.total_ask_quantity, book.total_bid_quantity) == (512330, 801774)
    assert book.at == datetime(2026, 11, 20, 10, 15, 23, tzinfo=n.KST)


def test_minute_and_daily_bars() -> None:
    minute = {"stk_cd": "005930", "stk_min_pole_chart_qry": [
        {"cur_prc": "-78800", "trde_qty": "7913", "cntr_tm": "20250917132000", "open_pric": "-78850",
         "high_pric": "-78900", "low_pric": "-78800", "acc_trde_qty": "14947571", "pred_pre": "-600",
         "pred_pre_sig": "5"}]}  # fmt: skip
    (bar,) = parse.minute_bars("005930", minute)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        78850,
        78900,
        78800,
        78800,
        7913,
    )
    assert bar.at == datetime(2025, 9, 17, 13, 20, tzinfo=n.KST)
    daily = {"stk_cd": "005930", "stk_dt_pole_chart_qry": [
        {"cur_prc": "70100", "trde_qty": "9263135", "trde_prica": "648525", "dt": "20250908",
         "open_pric": "69800", "high_pric": "70500", "low_pric": "69600", "pred_pre": "+600",
         "pred_pre_sig": "2", "trde_tern_rt": "+0.16"}]}  # fmt: skip
    (day,) = parse.daily_bars("005930", daily)
    assert day.day == date(2025, 9, 8)
    assert (day.open, day.close, day.volume) == (69800, 70100, 9263135)
    assert day.value_krw == 648525 * 1_000_000


def test_rankings() -> None:
    ka10032 = {"trde_prica_upper": [
        {"stk_cd": "005930", "now_rank": "1", "pred_rank": "1", "stk_nm": "삼성전자", "cur_prc": "-152000",
         "pred_pre_sig": "5", "pred_pre": "-100", "flu_rt": "-0.07", "sel_bid": "-152000",
         "buy_bid": "-150000", "now_trde_qty": "34954641", "pred_trde_qty": "22532511",
         "trde_prica": "5308092"}]}  # fmt: skip
    (row,) = parse.rankings(RankingKind.TRADING_VALUE, ka10032)
    assert (row.rank, row.code, row.price, row.direction) == (1, "005930", 152000, Direction.DOWN)
    assert row.change == -100 and row.change_rate == Decimal("-0.07")
    assert row.value_krw == 5308092 * 1_000_000 and row.volume == 34954641
    ka10023 = {"trde_qty_sdnin": [
        {"stk_cd": "005930", "stk_nm": "삼성전자", "cur_prc": "-152000", "pred_pre_sig": "5",
         "pred_pre": "-100", "flu_rt": "-0.07", "prev_trde_qty": "22532511",
         "now_trde_qty": "31103523", "sdnin_qty": "+8571012", "sdnin_rt": "+38.04"}]}  # fmt: skip
    (row,) = parse.rankings(RankingKind.VOLUME_SURGE, ka10023)
    assert row.rank == 1 and row.surge_rate == Decimal("38.04") and row.value_krw is None
    ka10027 = {"pred_pre_flu_rt_upper": [
        {"stk_cls": "0", "stk_cd": "005930", "stk_nm": "삼성전자", "cur_prc": "+74800",
         "pred_pre_sig": "1", "pred_pre": "+17200", "flu_rt": "+29.86", "sel_req": "207",
         "buy_req": "3820638", "now_trde_qty": "446203", "cntr_str": "346.54", "cnt": "4"}]}  # fmt: skip
    (row,) = parse.rankings(RankingKind.CHANGE_RATE, ka10027)
    assert row.direction is Direction.UPPER_LIMIT and row.price == 74800
    ka10030 = {"tdy_trde_qty_upper": [
        {"stk_cd": "005930", "stk_nm": "삼성전자", "cur_prc": "-152000", "pred_pre_sig": "5",
         "pred_pre": "-100", "flu_rt": "-0.07", "trde_qty": "34954641", "pred_rt": "+155.13",
         "trde_tern_rt": "+48.21", "trde_amt": "5308092"}]}  # fmt: skip
    (row,) = parse.rankings(RankingKind.VOLUME, ka10030)
    assert row.volume == 34954641 and row.value_krw == 5308092 * 1_000_000


def test_balance_and_holdings() -> None:
    deposit = {"entr": "000000000017534", "ord_alow_amt": "000000000085341",
               "pymn_alow_amt": "000000000085341", "d2_entra": "000000000012550"}  # fmt: skip
    evaluation = {
        "tot_pur_amt": "000000017598258", "tot_evlt_amt": "000000025789890",
        "tot_evlt_pl": "000000008138825", "tot_prft_rt": "46.25",
        "prsm_dpst_aset_amt": "000001012632507",
        "acnt_evlt_remn_indv_tot": [
            {"stk_cd": "A005930", "stk_nm": "삼성전자", "evltv_prft": "-00000000196888",
             "prft_rt": "-52.71", "pur_pric": "000000000124500", "pred_close_pric": "000000045400",
             "rmnd_qty": "000000000000003", "trde_able_qty": "000000000000003",
             "cur_prc": "000000059000", "pur_amt": "000000000373500", "evlt_amt": "000000000177000"}],
    }  # fmt: skip
    b = parse.balance(deposit, evaluation)
    assert (b.cash, b.orderable, b.d2_cash) == (17534, 85341, 12550)
    assert b.total_return_rate == Decimal("46.25") and b.estimated_assets == 1012632507
    (h,) = parse.holdings(evaluation)
    assert (h.code, h.quantity, h.average_price, h.current_price) == ("005930", 3, 124500, 59000)
    assert h.profit_loss == -196888 and h.return_rate == Decimal("-52.71")


def test_open_orders_and_fills() -> None:
    oso = {"oso": [
        {"acnt_no": "1234567890", "ord_no": "0000069", "stk_cd": "005930", "ord_stt": "접수",
         "stk_nm": "삼성전자", "ord_qty": "1", "ord_pric": "0", "oso_qty": "1", "cntr_tot_amt": "0",
         "orig_ord_no": "0000000", "io_tp_nm": "+매수", "trde_tp": "시장가", "tm": "154113",
         "cntr_qty": "0", "cur_prc": "+74100"}]}  # fmt: skip
    (o,) = parse.open_orders(oso, DAY)
    assert (o.order_no, o.original_order_no, o.side, o.remaining) == ("0000069", None, Side.BUY, 1)
    assert o.order_type_name == "시장가"
    assert o.at == datetime(2026, 11, 20, 15, 41, 13, tzinfo=n.KST)
    cntr = {"cntr": [
        {"ord_no": "0000037", "stk_nm": "삼성전자", "io_tp_nm": "-매도", "ord_pric": "158200",
         "ord_qty": "1", "cntr_pric": "158200", "cntr_qty": "1", "oso_qty": "0",
         "tdy_trde_cmsn": "310", "tdy_trde_tax": "284", "ord_stt": "체결", "trde_tp": "보통",
         "orig_ord_no": "0000000", "ord_tm": "153815", "stk_cd": "005930"}]}  # fmt: skip
    (f,) = parse.fills(cntr, DAY)
    assert (f.side, f.fill_price, f.fill_quantity, f.fee, f.tax) == (Side.SELL, 158200, 1, 310, 284)


def test_order_acks() -> None:
    assert parse.order_ack({"ord_no": "0000138", "dmst_stex_tp": "KRX"}).order_no == "0000138"
    amend = parse.amend_ack(
        {"ord_no": "0000140", "base_orig_ord_no": "0000139", "mdfy_qty": "000000000001"}
    )
    assert (amend.order_no, amend.original_order_no, amend.quantity) == ("0000140", "0000139", 1)
    cancel = parse.cancel_ack(
        {"ord_no": "0000141", "base_orig_ord_no": "0000139", "cncl_qty": "000000000001"}
    )
    assert cancel.quantity == 1


def test_instruments_ka10099() -> None:
    body = {"list": [
        {"code": "005930", "name": "삼성전자", "listCount": "0000005969782550", "auditInfo": "정상",
         "regDay": "19750611", "lastPrice": "00075000", "state": "증거금20%|담보대출|신용가능",
         "marketCode": "0", "marketName": "거래소", "upName": "전기·전자", "upSizeName": "대형주",
         "companyClassName": "", "orderWarning": "0", "nxtEnable": "Y"}]}  # fmt: skip
    (i,) = parse.instruments(body)
    assert (i.code, i.listed_shares, i.previous_close) == ("005930", 5969782550, 75000)
    assert i.listing_date == date(1975, 6, 11) and i.nxt_enabled
    assert i.state_flags == ("증거금20%", "담보대출", "신용가능")
    assert i.market is Market.KOSPI and i.warning is InstrumentWarning.NONE
    assert not i.is_halted and not i.is_administrative


def test_instruments_ka10099_flags_in_neutral_terms() -> None:
    row = {"code": "900100", "name": "정지회사", "marketCode": "10", "state": "거래정지|관리종목",
           "orderWarning": "3", "listCount": "1000"}  # fmt: skip
    (i,) = parse.instruments({"list": [row]})
    assert i.market is Market.KOSDAQ and i.is_halted and i.is_administrative
    assert i.warning is InstrumentWarning.OVERHEATED
    # An undocumented warning code errs on the side of a warning; a list outside the three markets
    # (ETFs) has no market.
    assert parse.instruments({"list": [{**row, "orderWarning": "9", "marketCode": "8"}]})[0].warning
    (_, etf) = parse.instruments({"list": [row, {**row, "marketCode": "8"}]})
    assert etf.market is None


def test_conditions_and_hits() -> None:
    conds = parse.conditions([["0", "조건1"], {"seq": "2  ", "name": "조건3"}])
    assert [(c.seq, c.name) for c in conds] == [("0", "조건1"), ("2", "조건3")]
    (hit,) = parse.condition_hits(
        [
            {
                "9001": "A005930",
                "302": "삼성전자",
                "10": "000075000",
                "25": "5",
                "11": "-00000100",
                "12": "-00000130",
                "13": "010386116",
                "16": "000075100",
                "17": "000075600",
                "18": "000074700",
            }
        ]
    )
    assert (hit.code, hit.price, hit.change, hit.volume) == ("005930", 75000, -100, 10386116)
    assert hit.change_rate == Decimal("-1.30") and hit.direction is Direction.DOWN
    hits = parse.condition_hits([{"jmcode": "A005930"}, {"jmcode": "A000660"}])
    assert [h.code for h in hits] == ["005930", "000660"]


TICK_FRAME = {"trnm": "REAL", "data": [{"type": "0B", "name": "주식체결", "item": "005930", "values": {
    "20": "165208", "10": "-20800", "11": "-50", "12": "-0.24", "27": "-20800", "28": "-20700",
    "15": "+82", "13": "30379732", "14": "632640", "16": "20850", "17": "+21150", "18": "-20450",
    "25": "5", "290": "2"}}]}  # fmt: skip


def test_tick_event() -> None:
    (tick,) = parse_real(orjson.dumps(TICK_FRAME), DAY)
    assert isinstance(tick, Tick)
    assert (tick.code, tick.price, tick.change, tick.quantity) == ("005930", 20800, -50, 82)
    assert tick.aggressor is Side.BUY and tick.direction is Direction.DOWN
    assert tick.change_rate == Decimal("-0.24")
    assert (tick.open, tick.high, tick.low) == (20850, 21150, 20450)
    assert (tick.best_ask, tick.best_bid) == (20800, 20700)
    assert tick.cumulative_volume == 30379732 and tick.cumulative_value_krw == 632640 * 10**6
    assert tick.at == datetime(2026, 11, 20, 16, 52, 8, tzinfo=n.KST)
    with pytest.raises(AttributeError):
        tick.item = "x"  # type: ignore[misc]


def test_order_balance_condition_events() -> None:
    frame = {"trnm": "REAL", "data": [
        {"type": "00", "name": "주문체결", "item": "005930", "values": {
            "9201": "1111111111", "9203": "0000018", "9001": "005930", "913": "접수",
            "302": "삼성전자", "900": "1", "901": "0", "902": "1", "903": "0", "904": "0000000",
            "905": "+매수", "906": "시장가", "907": "2", "908": "094022", "909": "", "910": "",
            "911": "", "919": "0"}},
        {"type": "04", "name": "현물잔고", "item": "005930", "values": {
            "9201": "1111111111", "9001": "005930", "302": "삼성전자", "10": "-60150",
            "930": "102", "931": "154116", "932": "15719834", "933": "102", "307": "60300"}},
        {"type": "02", "name": "조건검색", "item": "005930",
         "values": {"841": "4", "9001": "005930", "843": "I", "20": "152028", "907": "2"}},
        {"type": "0D", "name": "호가", "item": "005930", "values": {}},
    ]}  # fmt: skip
    order, bal, cond = parse_real(orjson.dumps(frame), DAY)
    assert isinstance(order, OrderEvent)
    assert (order.order_no, order.status, order.side, order.remaining) == (
        "0000018",
        OrderStatus.ACCEPTED,
        Side.BUY,
        1,
    )
    assert order.original_order_no is None and order.reject_reason is None
    assert order.fill_price is None and order.order_kind == "매수"
    assert isinstance(bal, BalanceEvent)
    assert (bal.code, bal.quantity, bal.average_price, bal.current_price) == (
        "005930",
        102,
        154116,
        60150,
    )
    assert isinstance(cond, ConditionEvent)
    assert (cond.seq, cond.code, cond.entered) == ("4", "005930", True)


@pytest.mark.parametrize(
    ("status", "rc", "msg", "cls", "code"),
    [
        (429, 5, "허용된 요청 개수를 초과하였습니다[1700:허용된 요청 개수를 초과하였습니다. API ID=ka10001]", RateLimited, "1700"),
        (200, 3, "인증에 실패했습니다[8005:Token이 유효하지 않습니다]", AuthExpired, "8005"),
        (200, 3, "…[8050: IP가 등록되지 않았습니다]", AuthFailed, "8050"),
        (200, 2, "입력 값 오류입니다[8030:투자구분(실전/모의)이 달라서 Appkey를 사용할수가 없습니다]", AuthFailed, "8030"),
        (200, 20, "[2000](855056:매수증거금이 부족합니다. 2주 매수가능)", OrderRejected, "855056"),
        (200, 20, "[2000](RC4058:모의투자 장종료)", OrderRejected, "RC4058"),
        (200, 2, "[1511:필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터=stk_cd]", InvalidRequest, "1511"),
        (200, 805004, "토큰 인증에 실패했습니다 [CODE=8005, MESSAGE=Token이 유효하지 않습니다]", AuthExpired, "8005"),
        (503, 1, "", BrokerUnavailable, None),
    ],
)  # fmt: skip
def test_error_mapping(status: int, rc: int, msg: str, cls: type, code: str | None) -> None:
    err = error_from_envelope(status, rc, msg)
    assert type(err) is cls
    assert err.code == code


def test_order_rejected_message_is_clean() -> None:
    err = error_from_envelope(200, "20", "[2000](855056:매수증거금이 부족합니다. 2주 매수가능)")
    assert isinstance(err, OrderRejected)
    assert err.message == "매수증거금이 부족합니다. 2주 매수가능"
    assert "[2000]" not in str(err)


@given(
    st.integers(min_value=1, max_value=5_000_000),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.times(),
)
def test_built_events_round_trip(price: int, qty: int, side: Side, t: time) -> None:
    from apps.broker.kiwoom.events import make_order_event, make_tick

    at = datetime.combine(DAY, t.replace(microsecond=0), tzinfo=n.KST)
    tick = make_tick("005930", price, qty, at, side=side)
    assert (tick.price, tick.quantity, tick.aggressor, tick.at) == (price, qty, side, at)
    ev = make_order_event(
        "0000001", "005930", OrderStatus.FILLED, side, qty, price, 0, at, fill_price=price
    )
    assert (ev.side, ev.quantity, ev.unit_fill_price, ev.at) == (side, qty, price, at)
