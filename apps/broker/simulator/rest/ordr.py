"""ordr TRs: kt10000 buy, kt10001 sell, kt10002 amend, kt10003 cancel."""

from __future__ import annotations

from typing import Any

from .. import encode as E
from ..dto import Side
from ..server import (
    RestContext,
    RestResult,
    bad_field,
    business_error,
)
from .common import _int_field, _market, _no, _req


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
