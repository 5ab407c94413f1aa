"""mrkcond TR: ka10004 the 10-level order book."""

from __future__ import annotations

from typing import Any

from .. import encode as E
from ..server import (
    RestContext,
    RestResult,
)
from .common import _market, _quote, _sp

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
