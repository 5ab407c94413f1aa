"""Kiwoom REST TR bodies served by the simulator (PROTOCOL.md §4).

Owns one handler per TR (stkinfo, mrkcond, chart, rkinfo, acnt, ordr groups), request validation,
`cont-yn`/`next-key` paging and the exact field names/encodings of each response. Handlers read
the market and the account through `MarketAdapter` (adapter.py), which returns the engine's DTOs
(dto.py); the HTTP envelope (auth, errors, throttling, faults, headers) lives in server.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from . import encode as E
from .adapter import MarketAdapter, io_name
from .dto import ORDER_TYPE_NAMES, OrderView, Quote, Side, StockStats
from .server import (
    RestContext,
    RestResult,
    bad_field,
    business_error,
    input_error,
    missing_field,
)

__all__ = ["TR_TABLE", "MarketAdapter"]

LIST_DONE = "조회가 완료되었습니다."
# ka1007x answer with a leading space in the official examples.
LIST_DONE_SPACED = " 조회가 완료되었습니다."
MINUTE_PAGE = 900  # observed page sizes (PROTOCOL.md §3.3)
DAY_PAGE = 600
RANK_PAGE = 100
MINUTE_SCOPES = {1, 3, 5, 10, 15, 30, 45, 60}


@dataclass(frozen=True)
class TrEntry:
    group: str
    handler: Callable[[RestContext, dict[str, Any]], RestResult]
    is_order: bool = False


# --------------------------------------------------------------------------- helpers
def _req(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or str(value).strip() == "":
        raise missing_field(name)
    return str(value).strip()


def _opt(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name)
    return default if value is None else str(value).strip()


def _int_field(body: dict[str, Any], name: str, required: bool = True) -> int | None:
    text = _req(body, name) if required else _opt(body, name)
    if text == "":
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise bad_field(name, "숫자가 아닙니다") from exc


def _quote(ctx: RestContext, body: dict[str, Any], field: str = "stk_cd") -> Quote:
    raw = _req(body, field)
    code = E.strip_exchange_suffix(raw)
    quote = ctx.server.market.quote(code)
    if quote is None:
        raise input_error(
            1902, f"종목 정보가 없습니다. 입력한 종목코드 값을 확인바랍니다. 종목코드={raw}"
        )
    return quote


def _sp(q: Quote, price: int) -> str:
    return E.signed_price(price, q.base_price)


def _market(ctx: RestContext) -> MarketAdapter:
    return ctx.server.market


# --------------------------------------------------------------------------- stkinfo
def ka10001(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    q = _quote(ctx, body)
    inst = _market(ctx).instrument(q.code)
    return RestResult(
        {
            "stk_cd": q.code,
            "stk_nm": q.name,
            "setl_mm": inst.settle_month if inst else "12",
            "fav": str(q.face_value),
            "cap": str(E.hundred_millions(q.face_value * q.listed_shares)),
            "flo_stk": str(q.listed_shares // 1000),
            "crd_rt": "+0.00",
            "oyr_hgst": _sp(q, q.year_high),
            "oyr_lwst": _sp(q, q.year_low),
            "mac": str(E.hundred_millions(q.market_cap)),
            "mac_wght": "",
            "for_exh_rt": "+0.00",
            "repl_pric": "",
            # Fundamentals come from an outside vendor at Kiwoom; the simulator has none.
            "per": "",
            "eps": "",
            "roe": "",
            "pbr": "",
            "ev": "",
            "bps": "",
            "sale_amt": "",
            "bus_pro": "",
            "cup_nga": "",
            "250hgst": _sp(q, q.high_250d),
            "250lwst": _sp(q, q.low_250d),
            "high_pric": _sp(q, q.high),
            "open_pric": _sp(q, q.open),
            "low_pric": _sp(q, q.low),
            "upl_pric": _sp(q, q.upper_limit),
            "lst_pric": _sp(q, q.lower_limit),
            "base_pric": str(q.base_price),
            "exp_cntr_pric": str(q.expected_price),
            "exp_cntr_qty": str(q.expected_qty),
            "250hgst_pric_dt": E.date8(q.high_250d_date),
            "250hgst_pric_pre_rt": E.pct(E.change_rate(q.price, q.high_250d)),
            "250lwst_pric_dt": E.date8(q.low_250d_date),
            "250lwst_pric_pre_rt": E.pct(E.change_rate(q.price, q.low_250d)),
            "cur_prc": _sp(q, q.price),
            "pre_sig": q.sign,
            "pred_pre": E.arith(q.change),
            "flu_rt": E.pct(q.change_rate_pct),
            "trde_qty": str(q.volume),
            "trde_pre": E.ratio_pct(q.volume, q.prev_volume),
            "fav_unit": "원",
            "dstr_stk": str(q.listed_shares),
            "dstr_rt": "100.0",
        }
    )


# ka10099 mrkt_tp -> engine market; the other listed kinds (ETF, ELW, ...) are not simulated.
MARKET_CODES = {"0": "KOSPI", "10": "KOSDAQ", "50": "KONEX"}
MARKET_NAMES = {"KOSPI": ("0", "거래소"), "KOSDAQ": ("10", "코스닥"), "KONEX": ("50", "코넥스")}


def ka10099(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    mrkt_tp = _req(body, "mrkt_tp")
    wanted = MARKET_CODES.get(mrkt_tp)
    market = _market(ctx)
    insts = [i for i in market.instruments() if str(i.market) == wanted] if wanted else []
    insts.sort(key=lambda i: i.code)
    rows = []
    for inst in insts:
        code, name = MARKET_NAMES.get(str(inst.market), ("0", "거래소"))
        rows.append(
            {
                "code": inst.code,
                "name": inst.name,
                "listCount": E.pad(inst.listed_shares, 16),
                "auditInfo": "정상",
                "regDay": E.date8(inst.listing_date),
                "lastPrice": E.pad(inst.prev_close, 8),
                "state": inst.state,
                "marketCode": code,
                "marketName": name,
                "upName": inst.industry,
                "upSizeName": "",
                "companyClassName": "",
                "orderWarning": "0",
                "nxtEnable": "N",
            }
        )
    return _paged(ctx, rows, "list", 5_000)


# --------------------------------------------------------------------------- mrkcond
_ORD = {1: "1th", 2: "2th", 3: "3th"}


def _level_name(n: int) -> str:
    return _ORD.get(n, f"{n}th")


def ka10004(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    q = _quote(ctx, body)
    book = _market(ctx).book(q.code)
    empty = (0, 0, 0)
    asks = [(lv.price, lv.qty, lv.qty_change) for lv in book.asks][:10]
    bids = [(lv.price, lv.qty, lv.qty_change) for lv in book.bids][:10]
    asks += [empty] * (10 - len(asks))
    bids += [empty] * (10 - len(bids))
    out: dict[str, Any] = {"bid_req_base_tm": E.hhmmss(book.time)}
    for n in range(10, 1, -1):
        price, qty, chg = asks[n - 1]
        lv = _level_name(n)
        out[f"sel_{lv}_pre_req_pre"] = E.arith(chg)
        out[f"sel_{lv}_pre_req"] = str(qty)
        out[f"sel_{lv}_pre_bid"] = _sp(q, price)
    out["sel_1th_pre_req_pre"] = E.arith(asks[0][2])
    out["sel_fpr_req"] = str(asks[0][1])
    out["sel_fpr_bid"] = _sp(q, asks[0][0])
    out["buy_fpr_bid"] = _sp(q, bids[0][0])
    out["buy_fpr_req"] = str(bids[0][1])
    out["buy_1th_pre_req_pre"] = E.arith(bids[0][2])
    for n in range(2, 11):
        price, qty, chg = bids[n - 1]
        lv = _level_name(n)
        out[f"buy_{lv}_pre_bid"] = _sp(q, price)
        out[f"buy_{lv}_pre_req"] = str(qty)
        out[f"buy_{lv}_pre_req_pre"] = E.arith(chg)
    out["tot_sel_req_jub_pre"] = E.arith(book.total_ask_change)
    out["tot_sel_req"] = str(book.total_ask_qty)
    out["tot_buy_req"] = str(book.total_bid_qty)
    out["tot_buy_req_jub_pre"] = E.arith(book.total_bid_change)
    # No after-hours session is simulated.
    out["ovt_sel_req_pre"] = "0"
    out["ovt_sel_req"] = "0"
    out["ovt_buy_req"] = "0"
    out["ovt_buy_req_pre"] = "0"
    return RestResult(out)


# --------------------------------------------------------------------------- chart
def _cursor_time(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, "%Y%m%d%H%M%S").replace(tzinfo=E.KST)
    except ValueError:
        return None


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").replace(tzinfo=E.KST).date()


def ka10080(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    q = _quote(ctx, body)
    scope = _int_field(body, "tic_scope")
    if scope not in MINUTE_SCOPES:
        raise bad_field("tic_scope", "지원하지 않는 틱범위입니다")
    _req(body, "upd_stkpc_tp")
    before: datetime | None = None
    # base_dt is documented as an optional start date but one measurement says it is ignored;
    # honouring it ("newest day returned") is the documented, safer reading.
    base_dt = _opt(body, "base_dt")
    if base_dt:
        try:
            day = datetime.strptime(base_dt, "%Y%m%d").replace(tzinfo=E.KST)
        except ValueError as exc:
            raise bad_field("base_dt", "YYYYMMDD 형식이 아닙니다") from exc
        before = day + timedelta(days=1)
    if ctx.cont_yn == "Y" and ctx.next_key:
        # The cursor is the START of the oldest bar already sent: bars strictly before it next.
        before = _cursor_time(ctx.next_key)
        if before is None:
            raise bad_field("next-key", "연속조회키가 올바르지 않습니다")
    bars = _market(ctx).minute_bars(q.code, scope, before, MINUTE_PAGE + 1)
    page, more = bars[:MINUTE_PAGE], len(bars) > MINUTE_PAGE
    rows = [
        {
            # Kiwoom's minute-bar label is not documented; the simulator uses the bar's END
            # time, like the KRX minute files and HTS charts (the first bar of a day is 09:01).
            "cur_prc": E.signed_price(b.close, b.prev_close),
            "trde_qty": str(b.volume),
            "cntr_tm": E.yyyymmddhhmmss(b.time + timedelta(minutes=b.minutes)),
            "open_pric": E.signed_price(b.open, b.prev_close),
            "high_pric": E.signed_price(b.high, b.prev_close),
            "low_pric": E.signed_price(b.low, b.prev_close),
            "acc_trde_qty": str(b.cum_volume),
            "pred_pre": E.arith(b.close - b.prev_close),
            "pred_pre_sig": E.sign_code(b.close, b.prev_close),
        }
        for b in page
    ]
    return RestResult(
        {"stk_cd": q.code, "stk_min_pole_chart_qry": rows},
        cont_yn="Y" if more else "N",
        next_key=E.yyyymmddhhmmss(page[-1].time) if more else "",
    )


def ka10081(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    q = _quote(ctx, body)
    base_dt = _req(body, "base_dt")
    try:
        end = _day(base_dt)
    except ValueError as exc:
        raise bad_field("base_dt", "YYYYMMDD 형식이 아닙니다") from exc
    _req(body, "upd_stkpc_tp")
    if ctx.cont_yn == "Y" and ctx.next_key:
        try:
            end = _day(ctx.next_key) - timedelta(days=1)
        except ValueError as exc:
            raise bad_field("next-key", "연속조회키가 올바르지 않습니다") from exc
    days = _market(ctx).daily_bars(q.code, end, DAY_PAGE + 1)
    page, more = days[:DAY_PAGE], len(days) > DAY_PAGE
    rows = [
        {
            "cur_prc": str(d.close),
            "trde_qty": str(d.volume),
            "trde_prica": str(E.millions(d.value)),
            "dt": E.date8(d.date),
            "open_pric": str(d.open),
            "high_pric": str(d.high),
            "low_pric": str(d.low),
            "pred_pre": E.arith(d.close - d.prev_close) if d.prev_close else "0",
            "pred_pre_sig": E.sign_code(d.close, d.prev_close),
            "trde_tern_rt": E.pct(d.turnover_pct),
        }
        for d in page
    ]
    return RestResult(
        {"stk_cd": q.code, "stk_dt_pole_chart_qry": rows},
        cont_yn="Y" if more else "N",
        next_key=E.date8(page[-1].date) if more else "",
    )


# --------------------------------------------------------------------------- rkinfo
def _ranked(ctx: RestContext, body: dict[str, Any]) -> list[StockStats]:
    mrkt_tp = _req(body, "mrkt_tp")
    stats = _market(ctx).stock_stats()
    if mrkt_tp == "001":
        stats = [s for s in stats if str(s.market) == "KOSPI"]
    elif mrkt_tp == "101":
        stats = [s for s in stats if str(s.market) == "KOSDAQ"]
    elif mrkt_tp != "000":
        raise bad_field("mrkt_tp", "시장구분 값이 올바르지 않습니다")
    return [s for s in stats if s.price > 0]


def _paged(
    ctx: RestContext,
    rows: list[dict[str, Any]],
    key: str,
    size: int,
    ok_msg: str | None = None,
) -> RestResult:
    """Offset paging for lists without a natural cursor; the offset rides in `next-key`."""
    start = 0
    if ctx.cont_yn == "Y" and ctx.next_key:
        try:
            start = max(0, int(ctx.next_key))
        except ValueError as exc:
            raise bad_field("next-key", "연속조회키가 올바르지 않습니다") from exc
    page = rows[start : start + size]
    more = start + size < len(rows)
    result = RestResult({key: page}, "Y" if more else "N", str(start + size) if more else "")
    if ok_msg is not None:
        result.return_msg = ok_msg
    return result


def _rank_cached(
    fn: Callable[[RestContext, dict[str, Any]], list[dict[str, Any]]],
) -> Callable[[RestContext, dict[str, Any]], list[dict[str, Any]]]:
    """Ranking rows depend only on the request and the market instant: encode them once."""

    def wrapper(ctx: RestContext, body: dict[str, Any]) -> list[dict[str, Any]]:
        key = tuple(sorted((str(k), str(v)) for k, v in body.items()))
        return _market(ctx).cached(fn.__name__, lambda _key: fn(ctx, body), key)

    return wrapper


def _rank_common(s: StockStats) -> dict[str, str]:
    return {
        "stk_cd": s.code,
        "stk_nm": s.name,
        "cur_prc": E.signed_price(s.price, s.base_price),
        "pred_pre_sig": s.sign,
        "pred_pre": E.arith(s.change),
        "flu_rt": E.pct(s.change_rate_pct),
    }


@_rank_cached
def _rows_ka10032(ctx: RestContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    _req(body, "mang_stk_incls")
    _req(body, "stex_tp")
    stats = sorted(_ranked(ctx, body), key=lambda s: (-s.value, s.code))
    rows = []
    for rank, s in enumerate(stats, 1):
        c = _rank_common(s)
        rows.append(
            {
                "stk_cd": s.code,
                "now_rank": str(rank),
                "pred_rank": str(s.prev_rank_value or ""),
                "stk_nm": s.name,
                "cur_prc": c["cur_prc"],
                "pred_pre_sig": c["pred_pre_sig"],
                "pred_pre": c["pred_pre"],
                "flu_rt": c["flu_rt"],
                "sel_bid": E.signed_price(s.best_ask, s.base_price),
                "buy_bid": E.signed_price(s.best_bid, s.base_price),
                "now_trde_qty": str(s.volume),
                "pred_trde_qty": str(s.prev_volume),
                "trde_prica": str(E.millions(s.value)),
            }
        )
    return rows


def ka10032(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    return _paged(ctx, _rows_ka10032(ctx, body), "trde_prica_upper", RANK_PAGE)


_QTY_THRESHOLDS = {
    "5": 5_000,
    "10": 10_000,
    "50": 50_000,
    "100": 100_000,
    "200": 200_000,
    "300": 300_000,
    "500": 500_000,
    "1000": 1_000_000,
}
_PRICE_FLOORS = {"0": 0, "2": 50_000, "5": 10_000, "6": 5_000, "8": 1_000, "9": 100_000}


@_rank_cached
def _rows_ka10023(ctx: RestContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    sort_tp = _req(body, "sort_tp")
    tm_tp = _req(body, "tm_tp")
    qty_tp = _req(body, "trde_qty_tp")
    for name in ("stk_cnd", "pric_tp", "stex_tp"):
        _req(body, name)
    min_qty = _QTY_THRESHOLDS.get(qty_tp, 0)
    floor = _PRICE_FLOORS.get(_opt(body, "pric_tp"), 0)
    minutes = _int_field(body, "tm", required=False) if tm_tp == "1" else None
    market = _market(ctx)
    rows = []
    for s in _ranked(ctx, body):
        if s.volume < min_qty or s.price < floor:
            continue
        if tm_tp == "1":
            # 분 mode: the last `tm` minutes against the `tm` minutes before them.
            now_qty, prev = market.recent_volume(s.code, max(1, minutes or 1))
        else:
            now_qty, prev = s.volume, s.prev_volume
        surge = now_qty - prev
        rate = (Decimal(surge) * 100 / Decimal(prev)) if prev else Decimal(0)
        rows.append((s, prev, now_qty, surge, rate))
    keys: dict[str, Callable[[tuple[Any, ...]], Any]] = {
        "1": lambda r: (-r[3], r[0].code),
        "2": lambda r: (-r[4], r[0].code),
        "3": lambda r: (r[3], r[0].code),
        "4": lambda r: (r[4], r[0].code),
    }
    rows.sort(key=keys.get(sort_tp, keys["1"]))
    out = [
        {
            **_rank_common(s),
            "prev_trde_qty": str(prev),
            "now_trde_qty": str(now_qty),
            "sdnin_qty": E.arith(surge),
            "sdnin_rt": E.pct(rate),
        }
        for s, prev, now_qty, surge, rate in rows
    ]
    return out


def ka10023(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    return _paged(ctx, _rows_ka10023(ctx, body), "trde_qty_sdnin", RANK_PAGE)


_PRICE_BANDS_10027: dict[str, tuple[int, int | None]] = {
    "0": (0, None),
    "1": (0, 1_000),
    "2": (1_000, 2_000),
    "3": (2_000, 5_000),
    "4": (5_000, 10_000),
    "5": (10_000, None),
    "8": (1_000, None),
    "10": (0, 10_000),
}


@_rank_cached
def _rows_ka10027(ctx: RestContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    sort_tp = _req(body, "sort_tp")
    qty_cnd = _req(body, "trde_qty_cnd")
    for name in ("stk_cnd", "crd_cnd", "updown_incls", "pric_cnd", "trde_prica_cnd", "stex_tp"):
        _req(body, name)
    min_qty = int(qty_cnd) * 1_000 if qty_cnd.isdigit() else 0
    lo, hi = _PRICE_BANDS_10027.get(_opt(body, "pric_cnd"), (0, None))
    prica = _opt(body, "trde_prica_cnd")
    min_value = int(prica) * 10_000_000 if prica.isdigit() else 0
    include_limits = _opt(body, "updown_incls") != "0"
    picked: list[StockStats] = []
    for s in _ranked(ctx, body):
        if s.volume < min_qty or s.value < min_value or s.price < lo:
            continue
        if hi is not None and s.price >= hi:
            continue
        if not include_limits and s.sign in ("1", "4"):
            continue
        picked.append(s)
    if sort_tp == "1":
        picked = sorted(
            (s for s in picked if s.change > 0), key=lambda s: (-s.change_rate_pct, s.code)
        )
    elif sort_tp == "2":
        picked = sorted((s for s in picked if s.change > 0), key=lambda s: (-s.change, s.code))
    elif sort_tp == "3":
        picked = sorted(
            (s for s in picked if s.change < 0), key=lambda s: (s.change_rate_pct, s.code)
        )
    elif sort_tp == "4":
        picked = sorted((s for s in picked if s.change < 0), key=lambda s: (s.change, s.code))
    else:
        picked = sorted((s for s in picked if s.change == 0), key=lambda s: s.code)
    out = [
        {
            "stk_cls": "0",
            **_rank_common(s),
            "sel_req": str(s.ask_qty_total),
            "buy_req": str(s.bid_qty_total),
            "now_trde_qty": str(s.volume),
            "cntr_str": E.pct(s.strength_pct, signed=False),
            "cnt": str(s.trade_count),
        }
        for s in picked
    ]
    return out


def ka10027(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    return _paged(ctx, _rows_ka10027(ctx, body), "pred_pre_flu_rt_upper", RANK_PAGE)


@_rank_cached
def _rows_ka10030(ctx: RestContext, body: dict[str, Any]) -> list[dict[str, Any]]:
    sort_tp = _req(body, "sort_tp")
    for name in (
        "mang_stk_incls",
        "crd_tp",
        "trde_qty_tp",
        "pric_tp",
        "trde_prica_tp",
        "mrkt_open_tp",
        "stex_tp",
    ):
        _req(body, name)
    stats = _ranked(ctx, body)
    if sort_tp == "2":
        stats.sort(key=lambda s: (-s.turnover_pct, s.code))
    elif sort_tp == "3":
        stats.sort(key=lambda s: (-s.value, s.code))
    else:
        stats.sort(key=lambda s: (-s.volume, s.code))
    out = []
    for s in stats:
        turnover = E.pct(s.turnover_pct)
        pred_rt = E.ratio_pct(s.volume, s.prev_volume)
        out.append(
            {
                **_rank_common(s),
                "trde_qty": str(s.volume),
                "pred_rt": pred_rt,
                "trde_tern_rt": turnover,
                "trde_amt": str(E.millions(s.value)),
                # Only the regular session is simulated: everything traded is 장중.
                "opmr_trde_qty": str(s.volume),
                "opmr_pred_rt": pred_rt,
                "opmr_trde_rt": turnover,
                "opmr_trde_amt": str(E.millions(s.value)),
                "af_mkrt_trde_qty": "0",
                "af_mkrt_pred_rt": "0.00",
                "af_mkrt_trde_rt": "+0.00",
                "af_mkrt_trde_amt": "0",
                "bf_mkrt_trde_qty": "0",
                "bf_mkrt_pred_rt": "0.00",
                "bf_mkrt_trde_rt": "+0.00",
                "bf_mkrt_trde_amt": "0",
            }
        )
    return out


def ka10030(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    return _paged(ctx, _rows_ka10030(ctx, body), "tdy_trde_qty_upper", RANK_PAGE)


# --------------------------------------------------------------------------- acnt
def ka00001(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    return RestResult({"acctNo": ctx.token.account})


KT00001_FIELDS = [
    "entr",
    "profa_ch",
    "bncr_profa_ch",
    "nxdy_bncr_sell_exct",
    "fc_stk_krw_repl_set_amt",
    "crd_grnta_ch",
    "crd_grnt_ch",
    "add_grnt_ch",
    "etc_profa",
    "uncl_stk_amt",
    "shrts_prica",
    "crd_set_grnta",
    "chck_ina_amt",
    "etc_chck_ina_amt",
    "crd_grnt_ruse",
    "knx_asset_evltv",
    "elwdpst_evlta",
    "crd_ls_rght_frcs_amt",
    "lvlh_join_amt",
    "lvlh_trns_alowa",
    "repl_amt",
    "remn_repl_evlta",
    "trst_remn_repl_evlta",
    "bncr_remn_repl_evlta",
    "profa_repl",
    "crd_grnta_repl",
    "crd_grnt_repl",
    "add_grnt_repl",
    "rght_repl_amt",
    "pymn_alow_amt",
    "wrap_pymn_alow_amt",
    "ord_alow_amt",
    "bncr_buy_alowa",
    "20stk_ord_alow_amt",
    "30stk_ord_alow_amt",
    "40stk_ord_alow_amt",
    "100stk_ord_alow_amt",
    "ch_uncla",
    "ch_uncla_dlfe",
    "ch_uncla_tot",
    "crd_int_npay",
    "int_npay_amt_dlfe",
    "int_npay_amt_tot",
    "etc_loana",
    "etc_loana_dlfe",
    "etc_loan_tot",
    "nrpy_loan",
    "loan_sum",
    "ls_sum",
    "crd_grnt_rt",
    "mdstrm_usfe",
    "min_ord_alow_yn",
    "loan_remn_evlt_amt",
    "dpst_grntl_remn",
    "sell_grntl_remn",
    "d1_entra",
    "d1_slby_exct_amt",
    "d1_buy_exct_amt",
    "d1_out_rep_mor",
    "d1_sel_exct_amt",
    "d1_pymn_alow_amt",
    "d2_entra",
    "d2_slby_exct_amt",
    "d2_buy_exct_amt",
    "d2_out_rep_mor",
    "d2_sel_exct_amt",
    "d2_pymn_alow_amt",
    "50stk_ord_alow_amt",
    "60stk_ord_alow_amt",
]


def kt00001(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    qry_tp = _req(body, "qry_tp")
    if qry_tp not in ("2", "3"):
        raise bad_field("qry_tp", "조회구분 값이 올바르지 않습니다")
    cash = _market(ctx).cash(ctx.token.account)
    values = dict.fromkeys(KT00001_FIELDS, 0)
    values.update(
        entr=cash.deposit,
        profa_ch=cash.held_for_orders,
        pymn_alow_amt=cash.withdrawable,
        ord_alow_amt=cash.orderable,
        bncr_buy_alowa=cash.orderable,
        d1_entra=cash.d1_deposit,
        d1_pymn_alow_amt=cash.withdrawable,
        d2_entra=cash.d2_deposit,
        d2_pymn_alow_amt=cash.withdrawable,
    )
    for rate in (20, 30, 40, 50, 60, 100):
        values[f"{rate}stk_ord_alow_amt"] = cash.orderable
    out: dict[str, Any] = {k: E.pad(v, 15) for k, v in values.items()}
    out["crd_grnt_rt"] = "0.00"
    out["stk_entr_prst"] = []
    return RestResult(out, return_msg=LIST_DONE)


def kt00018(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    _req(body, "qry_tp")
    _req(body, "dmst_stex_tp")
    market = _market(ctx)
    summary = market.summary(ctx.token.account)
    holdings = [h for h in market.holdings(ctx.token.account) if h.qty > 0]
    rows = []
    for h in holdings:
        rows.append(
            {
                "stk_cd": E.prefixed(h.code),
                "stk_nm": h.name,
                "evltv_prft": E.pad(h.eval_pnl, 15),
                "prft_rt": E.pct(h.pnl_rate_pct, signed=False),
                "pur_pric": E.pad(h.avg_price, 15),
                "pred_close_pric": E.pad(h.base_price, 12),
                "rmnd_qty": E.pad(h.qty, 15),
                "trde_able_qty": E.pad(h.orderable_qty, 15),
                "cur_prc": E.pad(h.price, 12),
                "pred_buyq": E.pad(0, 15),
                "pred_sellq": E.pad(0, 15),
                "tdy_buyq": E.pad(h.today_buy_qty, 15),
                "tdy_sellq": E.pad(h.today_sell_qty, 15),
                "pur_amt": E.pad(h.cost, 15),
                "pur_cmsn": E.pad(h.buy_commission, 15),
                "evlt_amt": E.pad(h.eval_amount, 15),
                "sell_cmsn": E.pad(h.est_sell_commission, 15),
                "tax": E.pad(h.est_sell_tax, 15),
                "sum_cmsn": E.pad(h.buy_commission + h.est_sell_commission, 15),
                "poss_rt": E.ratio_pct(h.eval_amount, summary.total_eval, signed=False),
                "crd_tp": "00",
                "crd_tp_nm": "",
                "crd_loan_dt": "",
            }
        )
    out: dict[str, Any] = {
        "tot_pur_amt": E.pad(summary.total_cost, 15),
        "tot_evlt_amt": E.pad(summary.total_eval, 15),
        "tot_evlt_pl": E.pad(summary.total_eval_pnl, 15),
        "tot_prft_rt": E.pct(summary.total_pnl_rate_pct, signed=False),
        "prsm_dpst_aset_amt": E.pad(summary.estimated_assets, 15),
        "tot_loan_amt": E.pad(0, 15),
        "tot_crd_loan_amt": E.pad(0, 15),
        "tot_crd_ls_amt": E.pad(0, 15),
    }
    page = _paged(ctx, rows, "acnt_evlt_remn_indv_tot", 200)
    out.update(page.body)
    return RestResult(out, page.cont_yn, page.next_key, "조회가 완료되었습니다")


def kt00004(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    _req(body, "qry_tp")
    _req(body, "dmst_stex_tp")
    market = _market(ctx)
    s = market.summary(ctx.token.account)
    holdings = [h for h in market.holdings(ctx.token.account) if h.qty > 0]
    rows = [
        {
            "stk_cd": E.prefixed(h.code),
            "stk_nm": h.name,
            "rmnd_qty": E.pad(h.qty, 12),
            "avg_prc": E.pad(h.avg_price, 12),
            "cur_prc": E.pad(h.price, 12),
            "evlt_amt": E.pad(h.eval_amount, 12),
            "pl_amt": E.pad(h.eval_pnl, 12),
            "pl_rt": E.pct(h.pnl_rate_pct, decimals=4, signed=False),
            "loan_dt": "",
            "pur_amt": E.pad(h.cost, 12),
            "setl_remn": E.pad(h.qty, 12),
            "pred_buyq": E.pad(0, 12),
            "pred_sellq": E.pad(0, 12),
            "tdy_buyq": E.pad(h.today_buy_qty, 12),
            "tdy_sellq": E.pad(h.today_sell_qty, 12),
        }
        for h in holdings
    ]
    start = s.starting_cash

    def rate(amount: int) -> str:
        return E.ratio_pct(amount, start, signed=False)

    out: dict[str, Any] = {
        "acnt_nm": "모의투자",
        "brch_nm": "StockAgent 시뮬레이터",
        "entr": E.pad(s.deposit, 12),
        "d2_entra": E.pad(s.deposit, 12),
        "tot_est_amt": E.pad(s.total_eval, 12),
        "aset_evlt_amt": E.pad(s.estimated_assets, 12),
        "tot_pur_amt": E.pad(s.total_cost, 12),
        "prsm_dpst_aset_amt": E.pad(s.estimated_assets, 12),
        "tot_grnt_sella": E.pad(0, 12),
        "tdy_lspft_amt": E.pad(start, 12),
        "invt_bsamt": E.pad(start, 12),
        "lspft_amt": E.pad(start, 12),
        "tdy_lspft": E.pad(s.today_realized_pnl, 12),
        "lspft2": E.pad(s.realized_pnl, 12),
        "lspft": E.pad(s.realized_pnl, 12),
        "tdy_lspft_rt": rate(s.today_realized_pnl),
        "lspft_ratio": rate(s.realized_pnl),
        "lspft_rt": rate(s.realized_pnl),
    }
    page = _paged(ctx, rows, "stk_acnt_evlt_prst", 200)
    out.update(page.body)
    return RestResult(out, page.cont_yn, page.next_key, LIST_DONE)


def _type_name(o: OrderView) -> str:
    return ORDER_TYPE_NAMES.get(str(o.order_type), "보통")


def _no(value: str | None) -> str:
    return (value or "").zfill(7) if value else "0000000"


def ka10075(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    all_tp = _req(body, "all_stk_tp")
    side_tp = _req(body, "trde_tp")
    _req(body, "stex_tp")
    code = E.strip_exchange_suffix(_opt(body, "stk_cd")) if all_tp == "1" else ""
    if all_tp == "1" and not code:
        raise missing_field("stk_cd")
    market = _market(ctx)
    acct = ctx.token.account
    orders = [o for o in market.orders(acct) if o.is_open and o.remaining_qty > 0]
    if code:
        orders = [o for o in orders if o.code == code]
    if side_tp in ("1", "2"):
        want = Side.SELL if side_tp == "1" else Side.BUY
        orders = [o for o in orders if o.side is want]
    orders.sort(key=lambda o: o.order_no, reverse=True)
    rows = []
    for o in orders:
        q = market.quote(o.code)
        base = q.base_price if q else 0
        rows.append(
            {
                "acnt_no": acct,
                "ord_no": _no(o.order_no),
                "mang_empno": "",
                "stk_cd": o.code,
                "tsk_tp": "",
                "ord_stt": str(o.status),
                "stk_nm": o.name,
                "ord_qty": str(o.qty),
                "ord_pric": str(o.price),
                "oso_qty": str(o.remaining_qty),
                "cntr_tot_amt": str(o.filled_value),
                "orig_ord_no": _no(o.orig_order_no),
                "io_tp_nm": io_name(o.side, o.action),
                "trde_tp": _type_name(o),
                "tm": E.hhmmss(o.time),
                "cntr_no": o.last_fill_no,
                "cntr_pric": str(o.avg_fill_price),
                "cntr_qty": str(o.filled_qty),
                "cur_prc": E.signed_price(q.price, base) if q else "0",
                "sel_bid": E.signed_price(q.best_ask, base) if q else "0",
                "buy_bid": E.signed_price(q.best_bid, base) if q else "0",
                "unit_cntr_pric": str(o.last_fill_price) if o.last_fill_qty else "",
                "unit_cntr_qty": str(o.last_fill_qty) if o.last_fill_qty else "",
                "tdy_trde_cmsn": str(o.commission),
                "tdy_trde_tax": str(o.tax),
                "ind_invsr": "",
                "stex_tp": "1",
                "stex_tp_txt": "KRX",
                "sor_yn": "N",
                "stop_pric": "",
            }
        )
    return _paged(ctx, rows, "oso", 100, ok_msg=LIST_DONE_SPACED)


def ka10076(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    qry_tp = _req(body, "qry_tp")
    sell_tp = _req(body, "sell_tp")
    _req(body, "stex_tp")
    code = E.strip_exchange_suffix(_opt(body, "stk_cd"))
    if qry_tp == "1" and not code:
        raise missing_field("stk_cd")
    cursor = _opt(body, "ord_no")
    orders = [o for o in _market(ctx).orders(ctx.token.account) if o.filled_qty > 0]
    if qry_tp == "1":
        orders = [o for o in orders if o.code == code]
    if sell_tp in ("1", "2"):
        want = Side.SELL if sell_tp == "1" else Side.BUY
        orders = [o for o in orders if o.side is want]
    if cursor.isdigit():
        orders = [o for o in orders if int(o.order_no) < int(cursor)]
    orders.sort(key=lambda o: o.order_no, reverse=True)
    rows = [
        {
            "ord_no": _no(o.order_no),
            "stk_nm": o.name,
            "io_tp_nm": io_name(o.side, o.action),
            "ord_pric": str(o.price),
            "ord_qty": str(o.qty),
            "cntr_pric": str(o.avg_fill_price),
            "cntr_qty": str(o.filled_qty),
            "oso_qty": str(o.remaining_qty),
            "tdy_trde_cmsn": str(o.commission),
            "tdy_trde_tax": str(o.tax),
            "ord_stt": "체결",
            "trde_tp": _type_name(o),
            "orig_ord_no": _no(o.orig_order_no),
            "ord_tm": E.hhmmss(o.time),
            "stk_cd": o.code,
            "stex_tp": "1",
            "stex_tp_txt": "KRX",
            "sor_yn": "N",
            "stop_pric": "",
        }
        for o in orders
    ]
    return _paged(ctx, rows, "cntr", 100, ok_msg=LIST_DONE_SPACED)


# --------------------------------------------------------------------------- ordr
def _stex(body: dict[str, Any]) -> str:
    stex = _req(body, "dmst_stex_tp").upper()
    if stex not in ("KRX", "NXT", "SOR"):
        raise bad_field("dmst_stex_tp", "KRX, NXT, SOR 중 하나여야 합니다")
    if stex == "NXT":
        # Like Kiwoom's mock host, the simulator is a KRX-only venue (SOR routes to KRX).
        raise business_error("RC9000", "모의투자에서는 해당업무가 제공되지 않습니다.")
    return stex


def _place(ctx: RestContext, body: dict[str, Any], side: Side) -> RestResult:
    stex = _stex(body)
    code = E.strip_exchange_suffix(_req(body, "stk_cd"))
    qty = _int_field(body, "ord_qty")
    trde_tp = _req(body, "trde_tp")
    price = _int_field(body, "ord_uv", required=False) or 0
    cond = _int_field(body, "cond_uv", required=False) or 0
    if qty is None or qty <= 0:
        raise bad_field("ord_qty", "주문수량은 0보다 커야 합니다")
    ack = _market(ctx).place(ctx.token.account, side, code, qty, price, trde_tp, cond)
    return RestResult(
        {"ord_no": _no(ack.order_no), "dmst_stex_tp": stex},
        return_msg=f"{side.korean}주문이 완료되었습니다.",
    )


def kt10000(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    return _place(ctx, body, Side.BUY)


def kt10001(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    return _place(ctx, body, Side.SELL)


def _orig(body: dict[str, Any]) -> str:
    text = _req(body, "orig_ord_no")
    if not text.isdigit():
        raise bad_field("orig_ord_no", "주문번호 형식이 아닙니다")
    return text.zfill(7)


def kt10002(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    stex = _stex(body)
    orig = _orig(body)
    code = E.strip_exchange_suffix(_req(body, "stk_cd"))
    qty = _int_field(body, "mdfy_qty")
    price = _int_field(body, "mdfy_uv")
    cond = _int_field(body, "mdfy_cond_uv", required=False) or 0
    ack = _market(ctx).amend(ctx.token.account, orig, code, qty or 0, price or 0, cond)
    return RestResult(
        {
            "ord_no": _no(ack.order_no),
            "base_orig_ord_no": _no(ack.base_order_no),
            "mdfy_qty": E.pad(ack.qty, 12),
            "dmst_stex_tp": stex,
        },
        return_msg=f"{ack.side.korean}정정 주문입력이 완료되었습니다",
    )


def kt10003(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    _stex(body)
    orig = _orig(body)
    code = E.strip_exchange_suffix(_req(body, "stk_cd"))
    qty = _int_field(body, "cncl_qty")
    ack = _market(ctx).cancel(ctx.token.account, orig, code, qty or 0)
    return RestResult(
        {
            "ord_no": _no(ack.order_no),
            "base_orig_ord_no": _no(ack.base_order_no),
            "cncl_qty": E.pad(ack.qty, 12),
        },
        return_msg=f"{ack.side.korean}취소 주문입력이 완료되었습니다",
    )


TR_TABLE: dict[str, TrEntry] = {
    "ka00001": TrEntry("acnt", ka00001),
    "ka10001": TrEntry("stkinfo", ka10001),
    "ka10099": TrEntry("stkinfo", ka10099),
    "ka10004": TrEntry("mrkcond", ka10004),
    "ka10080": TrEntry("chart", ka10080),
    "ka10081": TrEntry("chart", ka10081),
    "ka10032": TrEntry("rkinfo", ka10032),
    "ka10023": TrEntry("rkinfo", ka10023),
    "ka10027": TrEntry("rkinfo", ka10027),
    "ka10030": TrEntry("rkinfo", ka10030),
    "kt00001": TrEntry("acnt", kt00001),
    "kt00018": TrEntry("acnt", kt00018),
    "kt00004": TrEntry("acnt", kt00004),
    "ka10075": TrEntry("acnt", ka10075),
    "ka10076": TrEntry("acnt", ka10076),
    "kt10000": TrEntry("ordr", kt10000, is_order=True),
    "kt10001": TrEntry("ordr", kt10001, is_order=True),
    "kt10002": TrEntry("ordr", kt10002, is_order=True),
    "kt10003": TrEntry("ordr", kt10003, is_order=True),
}
