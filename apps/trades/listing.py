"""Filtered, sorted reads of orders, fills, positions and trades for the pages and the read-only API.

Query parameters are parsed here once, so a page and its API filter the same way. A bad value raises
`FilterError` naming the parameter; nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import F, Prefetch, QuerySet
from django.utils.translation import gettext as _

from apps.accounts.selectors import active_account_no, holdings_latest, holdings_of
from apps.trades.models import (
    OPEN_STATUSES,
    Fill,
    Order,
    OrderStatus,
    OrderTransition,
    Position,
    Side,
    Trade,
)
from krx import KST

if TYPE_CHECKING:
    from apps.accounts.models import BalanceSnapshot

_CODE = re.compile(r"^[0-9A-Z]{6}$")
TRADE_SORTS = {
    "date": ("-exit_time",),
    "-date": ("-exit_time",),
    "+date": ("exit_time",),
    "pnl": ("pnl", "exit_time"),
    "-pnl": ("-pnl", "-exit_time"),
    "pnl_pct": ("pnl_pct", "exit_time"),
    "-pnl_pct": ("-pnl_pct", "-exit_time"),
}


class FilterError(ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def _date(params: Mapping[str, Any], name: str) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise FilterError(name, _("날짜 형식이 아닙니다 (YYYY-MM-DD): %(v)s") % {"v": raw}) from exc
    if not dt.date(1900, 1, 1) <= day <= dt.date(2999, 12, 31):
        # The day's bounds in UTC must exist (0001-01-01 KST and 9999-12-31 + 1 day do not).
        raise FilterError(name, _("날짜가 범위를 벗어났습니다: %(value)s") % {"value": raw})
    return day


def _code(params: Mapping[str, Any]) -> str | None:
    raw = (params.get("code") or "").strip().upper().removeprefix("A")
    if not raw:
        return None
    if not _CODE.match(raw):
        raise FilterError("code", _("종목코드는 6자리입니다: %(v)s") % {"v": raw})
    return raw


def _choice(params: Mapping[str, Any], name: str, allowed: list[str]) -> str | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        raise FilterError(name, _("허용되지 않는 값입니다: %(v)s") % {"v": raw})
    return raw


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=KST)


# --- orders ---------------------------------------------------------------------------------------------
def orders_filtered(params: Mapping[str, Any]) -> QuerySet[Order]:
    """`status` (a status or `open`), `side`, `code`, `strategy`, `from`/`to` (KST dates, inclusive)."""
    qs = Order.objects.select_related("created_by").order_by("-created_at")
    status = _choice(params, "status", [*OrderStatus.values, "open"])
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if side := _choice(params, "side", Side.values):
        qs = qs.filter(side=side)
    if code := _code(params):
        qs = qs.filter(code=code)
    if strategy := (params.get("strategy") or "").strip():
        qs = qs.filter(strategy_tag=strategy)
    if start := _date(params, "from"):
        qs = qs.filter(created_at__gte=_day_start(start))
    if end := _date(params, "to"):
        qs = qs.filter(created_at__lt=_day_start(end + dt.timedelta(days=1)))
    return qs


def order_detail(pk: Any) -> Order:
    return Order.objects.prefetch_related(
        Prefetch("transitions", queryset=OrderTransition.objects.order_by("at", "id")),
        Prefetch("fills", queryset=Fill.objects.order_by("cum_quantity")),
        "children",
    ).get(pk=pk)


def fills_filtered(params: Mapping[str, Any]) -> QuerySet[Fill]:
    """`order` (id), `code`, `side`, `from`/`to` (KST dates)."""
    qs = Fill.objects.select_related("order").order_by("-executed_at", "-id")
    if order := (params.get("order") or "").strip():
        try:
            qs = qs.filter(order_id=uuid.UUID(order))
        except ValueError:
            raise FilterError(
                "order", _("주문 ID(UUID)가 아닙니다: %(v)s") % {"v": order}
            ) from None
    if code := _code(params):
        qs = qs.filter(code=code)  # the fill's own copy of its order's code (indexed)
    if side := _choice(params, "side", Side.values):
        qs = qs.filter(order__side=side)
    if start := _date(params, "from"):
        qs = qs.filter(executed_at__gte=_day_start(start))
    if end := _date(params, "to"):
        qs = qs.filter(executed_at__lt=_day_start(end + dt.timedelta(days=1)))
    return qs


# --- trades (seed 004 §7.2) -----------------------------------------------------------------------------
def trades_filtered(params: Mapping[str, Any]) -> QuerySet[Trade]:
    """`from`/`to` (trade dates, inclusive), `code`, `strategy`; `sort` = date, +date, pnl, -pnl, pnl_pct,
    -pnl_pct (default newest first)."""
    qs = Trade.objects.all()
    if start := _date(params, "from"):
        qs = qs.filter(date__gte=start)
    if end := _date(params, "to"):
        qs = qs.filter(date__lte=end)
    if code := _code(params):
        qs = qs.filter(code=code)
    if strategy := (params.get("strategy") or "").strip():
        qs = qs.filter(strategy_tag=strategy)
    sort = _choice(params, "sort", list(TRADE_SORTS)) or "date"
    return qs.order_by(*TRADE_SORTS[sort])


def strategy_tags() -> list[str]:
    """The trade log's strategy filter: the distinct tags of the trades, by a skip scan of the
    strategy_tag index (one index probe per tag, however many trades; a plain DISTINCT read them all)."""
    table = connection.ops.quote_name(Trade._meta.db_table)
    column = connection.ops.quote_name(Trade._meta.get_field("strategy_tag").column)
    sql = f"""
        WITH RECURSIVE tags(tag) AS (
            (SELECT {column} FROM {table} WHERE {column} > '' ORDER BY {column} LIMIT 1)
            UNION ALL
            SELECT (SELECT {column} FROM {table} WHERE {column} > tags.tag ORDER BY {column} LIMIT 1)
            FROM tags WHERE tags.tag IS NOT NULL
        )
        SELECT tag FROM tags WHERE tag IS NOT NULL
    """  # noqa: S608 - names from the model, no input
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return sorted(row[0] for row in cursor.fetchall())


# --- positions ------------------------------------------------------------------------------------------
def positions_live(
    account_no: str | None = None,
    snapshot: BalanceSnapshot | None = ...,  # type: ignore[assignment]
) -> list[dict[str, Any]]:
    """The active account's positions with the latest price we know: the position's own, else the
    broker's holdings snapshot (read only when a position has no price of its own; `snapshot`: the
    active account's latest balance snapshot when the caller has read it). Unrealised P&L is before
    exit costs (Position.unrealized_pnl)."""
    account_no = account_no or active_account_no()
    rows = list(
        Position.objects.filter(account_no=account_no, quantity__gt=0)
        .annotate(sellable_qty=F("quantity") - F("reserved"))
        .order_by("code")
    )
    broker_prices: dict[str, int | None] = {}
    if any(p.current_price is None for p in rows):
        holdings = holdings_latest() if snapshot is ... else holdings_of(snapshot)
        broker_prices = {h.code: h.current_price for h in holdings}
    out = []
    for p in rows:
        price = p.current_price if p.current_price is not None else broker_prices.get(p.code)
        cost = p.cost_amount + p.cost_fees
        pnl = None if price is None else price * p.quantity - cost
        out.append(
            {
                "code": p.code,
                "name": p.name,
                "qty": p.quantity,
                "sellable": p.sellable_qty,
                "avg_price": p.avg_price,
                "price": price,
                "cost": cost,
                "pnl": pnl,
                "return_rate": None
                if pnl is None or not cost
                else (Decimal(pnl) * 100 / cost).quantize(Decimal("0.01")),
                "realized_pnl": p.realized_pnl,
                "stop_price": p.stop_price,
                "entry_time": p.entry_time,
                "strategy_tag": p.strategy_tag,
            }
        )
    return out
