"""Kiwoom TR response bodies → the contract's types. One function per TR; no I/O here.

Each function takes the decoded JSON body (and, where rows only carry `HHMMSS`, the KST trading day)
and returns normalised values. Field semantics follow PROTOCOL.md §4's field tables. A price or
rate that is blank, garbled or 0 becomes `None`; a chart row without its prices is dropped (a bar
always has OHLC); a garbled amount raises `GarbledValue` (a `BrokerUnavailable`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from apps.broker.contract.types import (
    AmendAck,
    Balance,
    CancelAck,
    Condition,
    ConditionHit,
    DailyBar,
    Fill,
    Holding,
    Instrument,
    MinuteBar,
    OpenOrder,
    OrderAck,
    OrderBook,
    OrderBookLevel,
    Quote,
    RankingKind,
    RankingRow,
    Side,
)

from . import mapping
from . import normalize as n

log = logging.getLogger(__name__)

Row = Mapping[str, Any]


def _s(row: Row, key: str) -> str:
    value = row.get(key, "")
    return value if isinstance(value, str) else ("" if value is None else str(value))


def side_from_name(io_tp_nm: str) -> Side:
    """`+매수`, `-매도`, `+매수정정`, `매도취소` … → side."""
    return Side.BUY if "매수" in io_tp_nm else Side.SELL


def side_from_code(raw: str) -> Side:
    return Side.SELL if raw.strip() == "1" else Side.BUY


# --------------------------------------------------------------------------- market data
def quote(body: Row) -> Quote:
    """ka10001."""
    cur = _s(body, "cur_prc")
    return Quote(
        code=n.code(_s(body, "stk_cd")),
        name=_s(body, "stk_nm").strip(),
        price=n.price(cur),
        direction=mapping.direction(_s(body, "pre_sig"), _s(body, "pred_pre") or cur),
        change=n.signed_int(_s(body, "pred_pre")),
        change_rate=n.rate(_s(body, "flu_rt")),
        open=n.price(_s(body, "open_pric")),
        high=n.price(_s(body, "high_pric")),
        low=n.price(_s(body, "low_pric")),
        base_price=n.price(_s(body, "base_pric")),
        upper_limit=n.price(_s(body, "upl_pric")),
        lower_limit=n.price(_s(body, "lst_pric")),
        volume=n.unsigned_int(_s(body, "trde_qty")),
        market_cap_krw=n.unsigned_int(_s(body, "mac")) * n.HUNDRED_MILLION,
    )


def _level_key(side: str, level: int, what: str) -> str:
    if level == 1:
        return f"{side}_fpr_{what}"
    return f"{side}_{level}th_pre_{what}"


def order_book(code: str, body: Row, day: date) -> OrderBook:
    """ka10004. Empty levels (price 0) are dropped."""

    def levels(side: str) -> tuple[OrderBookLevel, ...]:
        out = []
        for level in range(1, 11):
            p = n.price(_s(body, _level_key(side, level, "bid")))
            if p is not None:
                out.append(
                    OrderBookLevel(p, n.unsigned_int(_s(body, _level_key(side, level, "req"))))
                )
        return tuple(out)

    return OrderBook(
        code=n.code(code),
        asks=levels("sel"),
        bids=levels("buy"),
        total_ask_quantity=n.unsigned_int(_s(body, "tot_sel_req")),
        total_bid_quantity=n.unsigned_int(_s(body, "tot_buy_req")),
        at=n.kst_at(day, _s(body, "bid_req_base_tm")),
    )


def _ohlc(row: Row) -> tuple[int, int, int, int] | None:
    o, h, lo, c = (n.price(_s(row, k)) for k in ("open_pric", "high_pric", "low_pric", "cur_prc"))
    if o is None or h is None or lo is None or c is None:
        return None
    return o, h, lo, c


def minute_bars(code: str, body: Row) -> list[MinuteBar]:
    """ka10080 rows (newest first, direction-signed OHLC)."""
    c = n.code(code)
    out = []
    for r in body.get("stk_min_pole_chart_qry") or []:
        ohlc = _ohlc(r)
        if ohlc is None:
            log.warning("ka10080 %s: row %s without prices dropped", c, _s(r, "cntr_tm"))
            continue
        out.append(
            MinuteBar(c, n.kst_datetime(_s(r, "cntr_tm")), *ohlc, n.unsigned_int(_s(r, "trde_qty")))
        )
    return out


def daily_bars(code: str, body: Row) -> list[DailyBar]:
    """ka10081 rows (newest first). OHLC are unsigned there, but abs() is harmless if not."""
    c = n.code(code)
    out = []
    for r in body.get("stk_dt_pole_chart_qry") or []:
        day = n.kst_date(_s(r, "dt"))
        if day is None:
            continue
        ohlc = _ohlc(r)
        if ohlc is None:
            log.warning("ka10081 %s: row %s without prices dropped", c, day)
            continue
        out.append(
            DailyBar(
                c,
                day,
                *ohlc,
                volume=n.unsigned_int(_s(r, "trde_qty")),
                value_krw=n.millions_to_krw(_s(r, "trde_prica")),
            )
        )
    return out


RANKING_LIST_KEY = {
    RankingKind.TRADING_VALUE: "trde_prica_upper",
    RankingKind.VOLUME_SURGE: "trde_qty_sdnin",
    RankingKind.CHANGE_RATE: "pred_pre_flu_rt_upper",
    RankingKind.VOLUME: "tdy_trde_qty_upper",
}


def rankings(kind: RankingKind, body: Row, start_rank: int = 1) -> list[RankingRow]:
    """ka10032 / ka10023 / ka10027 / ka10030 rows; rank from `now_rank` when present."""
    out = []
    for i, r in enumerate(body.get(RANKING_LIST_KEY[kind]) or []):
        cur = _s(r, "cur_prc")
        rank_raw = _s(r, "now_rank").strip()
        if kind is RankingKind.TRADING_VALUE:
            volume, value = _s(r, "now_trde_qty"), n.millions_to_krw(_s(r, "trde_prica"))
        elif kind is RankingKind.VOLUME:
            volume, value = _s(r, "trde_qty"), n.millions_to_krw(_s(r, "trde_amt"))
        else:
            volume, value = _s(r, "now_trde_qty"), None
        out.append(
            RankingRow(
                rank=int(rank_raw) if rank_raw.isdigit() else start_rank + i,
                code=n.code(_s(r, "stk_cd")),
                name=_s(r, "stk_nm").strip(),
                price=n.price(cur),
                direction=mapping.direction(_s(r, "pred_pre_sig"), _s(r, "pred_pre") or cur),
                change=n.signed_int(_s(r, "pred_pre")),
                change_rate=n.rate(_s(r, "flu_rt")),
                volume=n.unsigned_int(volume),
                value_krw=value,
                surge_rate=n.rate(_s(r, "sdnin_rt")) if "sdnin_rt" in r else None,
            )
        )
    return out


def instruments(body: Row) -> list[Instrument]:
    """ka10099 (camelCase keys): market, warning and the halt/administrative flags in neutral terms."""
    out: list[Instrument] = []
    for r in body.get("list") or []:
        flags = tuple(f for f in _s(r, "state").split("|") if f)
        out.append(
            Instrument(
                code=n.code(_s(r, "code")),
                name=_s(r, "name").strip(),
                market=mapping.market(_s(r, "marketCode")),
                market_name=_s(r, "marketName").strip(),
                listed_shares=n.unsigned_int(_s(r, "listCount")),
                listing_date=n.kst_date(_s(r, "regDay")),
                previous_close=n.price(_s(r, "lastPrice")),
                sector=_s(r, "upName").strip(),
                size_class=_s(r, "upSizeName").strip(),
                warning=mapping.instrument_warning(_s(r, "orderWarning")),
                is_halted=mapping.state_is_halted(flags),
                is_administrative=mapping.state_is_administrative(flags),
                state_flags=flags,
                nxt_enabled=_s(r, "nxtEnable").strip().upper() == "Y",
            )
        )
    return out


# --------------------------------------------------------------------------- account
def balance(deposit: Row, evaluation: Row) -> Balance:
    """kt00001 (cash) + kt00018 (evaluation totals)."""
    return Balance(
        cash=n.signed_int(_s(deposit, "entr")),
        d2_cash=n.signed_int(_s(deposit, "d2_entra")),
        orderable=n.signed_int(_s(deposit, "ord_alow_amt")),
        withdrawable=n.signed_int(_s(deposit, "pymn_alow_amt")),
        total_purchase=n.signed_int(_s(evaluation, "tot_pur_amt")),
        total_evaluation=n.signed_int(_s(evaluation, "tot_evlt_amt")),
        total_profit_loss=n.signed_int(_s(evaluation, "tot_evlt_pl")),
        total_return_rate=n.rate(_s(evaluation, "tot_prft_rt")),
        estimated_assets=n.signed_int(_s(evaluation, "prsm_dpst_aset_amt")),
    )


def holdings(body: Row) -> list[Holding]:
    """kt00018 `acnt_evlt_remn_indv_tot` rows (A-prefixed codes, zero-padded numbers)."""
    return [
        Holding(
            code=n.code(_s(r, "stk_cd")),
            name=_s(r, "stk_nm").strip(),
            quantity=n.unsigned_int(_s(r, "rmnd_qty")),
            sellable_quantity=n.unsigned_int(_s(r, "trde_able_qty")),
            average_price=n.price(_s(r, "pur_pric")),
            current_price=n.price(_s(r, "cur_prc")),
            purchase_amount=n.signed_int(_s(r, "pur_amt")),
            evaluation_amount=n.signed_int(_s(r, "evlt_amt")),
            profit_loss=n.signed_int(_s(r, "evltv_prft")),
            return_rate=n.rate(_s(r, "prft_rt")),
        )
        for r in body.get("acnt_evlt_remn_indv_tot") or []
    ]


def _orig(raw: str) -> str | None:
    s = raw.strip()
    return None if not s or not s.strip("0") else n.order_no(s)


def open_orders(body: Row, day: date) -> list[OpenOrder]:
    """ka10075 `oso` rows; `tm` is HHMMSS on the trading day `day`."""
    out = []
    for r in body.get("oso") or []:
        qty = n.unsigned_int(_s(r, "ord_qty"))
        remaining = n.unsigned_int(_s(r, "oso_qty"))
        filled = max(qty - remaining, n.unsigned_int(_s(r, "cntr_qty")))
        out.append(
            OpenOrder(
                order_no=n.order_no(_s(r, "ord_no")),
                original_order_no=_orig(_s(r, "orig_ord_no")),
                code=n.code(_s(r, "stk_cd")),
                name=_s(r, "stk_nm").strip(),
                side=side_from_name(_s(r, "io_tp_nm")),
                status=mapping.order_status(
                    _s(r, "ord_stt"), remaining=remaining, filled=filled, kind=_s(r, "io_tp_nm")
                ),
                order_type_name=_s(r, "trde_tp").strip(),
                quantity=qty,
                price=n.price(_s(r, "ord_pric")),
                remaining=remaining,
                filled_quantity=filled,
                filled_value=n.unsigned_int(_s(r, "cntr_tot_amt")),
                at=n.kst_at(day, _s(r, "tm")),
            )
        )
    return out


def fills(body: Row, day: date) -> list[Fill]:
    """ka10076 `cntr` rows (newest first)."""
    out = []
    for r in body.get("cntr") or []:
        remaining = n.unsigned_int(_s(r, "oso_qty"))
        filled = n.unsigned_int(_s(r, "cntr_qty"))
        out.append(
            Fill(
                order_no=n.order_no(_s(r, "ord_no")),
                original_order_no=_orig(_s(r, "orig_ord_no")),
                code=n.code(_s(r, "stk_cd")),
                name=_s(r, "stk_nm").strip(),
                side=side_from_name(_s(r, "io_tp_nm")),
                status=mapping.order_status(
                    _s(r, "ord_stt"), remaining=remaining, filled=filled, kind=_s(r, "io_tp_nm")
                ),
                order_type_name=_s(r, "trde_tp").strip(),
                order_price=n.price(_s(r, "ord_pric")),
                order_quantity=n.unsigned_int(_s(r, "ord_qty")),
                fill_price=n.price(_s(r, "cntr_pric")),
                fill_quantity=filled,
                remaining=remaining,
                fee=n.unsigned_int(_s(r, "tdy_trde_cmsn")),
                tax=n.unsigned_int(_s(r, "tdy_trde_tax")),
                at=n.kst_at(day, _s(r, "ord_tm")),
            )
        )
    return out


# --------------------------------------------------------------------------- orders
def order_ack(body: Row) -> OrderAck:
    return OrderAck(n.order_no(_s(body, "ord_no")), _s(body, "dmst_stex_tp").strip() or "KRX")


def amend_ack(body: Row) -> AmendAck:
    return AmendAck(
        n.order_no(_s(body, "ord_no")),
        n.order_no(_s(body, "base_orig_ord_no")),
        n.unsigned_int(_s(body, "mdfy_qty")),
    )


def cancel_ack(body: Row) -> CancelAck:
    return CancelAck(
        n.order_no(_s(body, "ord_no")),
        n.order_no(_s(body, "base_orig_ord_no")),
        n.unsigned_int(_s(body, "cncl_qty")),
    )


# --------------------------------------------------------------------------- condition search
def conditions(data: Iterable[Any]) -> list[Condition]:
    """CNSRLST `data`: `[seq, name]` arrays (official example) or `{seq, name}` objects."""
    out = []
    for item in data or []:
        if isinstance(item, Mapping):
            seq, name = str(item.get("seq", "")), str(item.get("name", ""))
        else:
            seq, name = str(item[0]), str(item[1]) if len(item) > 1 else ""
        out.append(Condition(seq.strip(), name.strip()))
    return out


def condition_hits(data: Iterable[Any]) -> list[ConditionHit]:
    """CNSRREQ rows: full FID rows (search_type 0) or `{jmcode}` (search_type 1)."""
    out = []
    for r in data or []:
        if "jmcode" in r:
            out.append(ConditionHit(code=n.code(_s(r, "jmcode"))))
            continue
        change = _s(r, "11")
        out.append(
            ConditionHit(
                code=n.code(_s(r, "9001")),
                name=_s(r, "302").strip(),
                price=n.price(_s(r, "10")),
                direction=mapping.direction(_s(r, "25"), change),
                change=n.signed_int(change),
                change_rate=n.rate_x100(_s(r, "12")),
                volume=n.unsigned_int(_s(r, "13")),
            )
        )
    return out
