"""Shared parts of the simulator's TR handlers: request-field parsing, the quote lookup,
page sizes and the TR table's entry type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import encode as E
from ..adapter import MarketAdapter
from ..dto import Quote
from ..server import (
    RestContext,
    RestResult,
    bad_field,
    input_error,
    missing_field,
)

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


def _no(value: str | None) -> str:
    return (value or "").zfill(7) if value else "0000000"
