"""acnt TRs: ka00001 accounts, kt00001 deposit, kt00018 / kt00004 balance and evaluation, ka10075 open orders, ka10076 fills."""

from __future__ import annotations

from typing import Any

from .. import encode as E
from ..adapter import io_name
from ..dto import ORDER_TYPE_NAMES, OrderView, Side
from ..server import (
    RestContext,
    RestResult,
    bad_field,
    missing_field,
)
from .common import LIST_DONE, LIST_DONE_SPACED, _market, _no, _opt, _paged, _req


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
