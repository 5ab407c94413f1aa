"""stkinfo TRs: ka10001 basic stock info, ka10099 the stock list."""

from __future__ import annotations

from typing import Any

from .. import encode as E
from ..server import (
    RestContext,
    RestResult,
)
from .common import _market, _paged, _quote, _req, _sp


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
