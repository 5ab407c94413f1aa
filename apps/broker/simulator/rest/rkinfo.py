"""rkinfo TRs: ka10032 trading value, ka10023 volume surge, ka10027 change rate, ka10030 volume rankings."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .. import encode as E
from ..dto import StockStats
from ..server import (
    RestContext,
    RestResult,
    bad_field,
)
from .common import RANK_PAGE, _int_field, _market, _opt, _paged, _req


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
