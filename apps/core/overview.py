"""Reads of the overview page (the landing page after login, seed 004 §7.1): the account summary from the
latest balance snapshot, the system status, the position cards, the day's feed of strategy signals,
fills and condition hits, and the day's equity curve.

Everything here is read once per page; /ws/live keeps it current afterwards (`account_balance`,
`system_status`, `risk_state`, `price_update`, `position_update`, `trade_signal`, `order_filled`,
`conditions.update`). "The day" is the exchange's (the simulator's clock when trading on it), in KST.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from krx import KST

FEED_SIZE = 30
CURVE_POINTS = 2000  # a snapshot a minute is ~400 a session; a cap against a runaway sync loop


def side_labels() -> dict[str, str]:
    """Labels of the feed's side column: an order's side or a condition hit's kind."""
    return {"buy": _("매수"), "sell": _("매도"), "entry": _("편입"), "exit": _("이탈")}


def risk_labels() -> dict[str, str]:
    return {
        "active": pgettext("risk state", "정상"),
        "reducing": pgettext("risk state", "축소"),
        "halted": pgettext("risk state", "중단"),
    }


def day_start(now: dt.datetime) -> dt.datetime:
    """KST midnight of the exchange day of `now` (aware)."""
    return dt.datetime.combine(now.astimezone(KST).date(), dt.time(0), tzinfo=KST)


# --- account --------------------------------------------------------------------------------------------
def account_summary(snapshot: Any) -> dict[str, Any] | None:
    """The latest balance snapshot's figures (the `account_balance` push's shape), None before the first
    sync."""
    from apps.accounts.services import balance_payload

    return None if snapshot is None else balance_payload(snapshot)


def equity_curve(account: Any, start: dt.datetime, latest: Any = ...) -> list[dict[str, Any]]:
    """The day's estimated assets, one point per balance snapshot since `start` (oldest first). `latest`:
    the account's latest snapshot when already read; none since `start` means no curve (no query)."""
    if account is None or latest is None or (latest is not ... and latest.taken_at < start):
        return []
    from apps.accounts.models import BalanceSnapshot

    rows = (
        BalanceSnapshot.objects.filter(account=account, taken_at__gte=start)
        .order_by("-taken_at")
        .values_list("taken_at", "estimated_assets")[:CURVE_POINTS]
    )
    return [{"at": at.isoformat(), "value": value} for at, value in reversed(rows)]


# --- system status --------------------------------------------------------------------------------------
def system_state(
    account_no: str, gate: dict[str, Any] | None = None, newest_fill: dt.datetime | None = None
) -> dict[str, Any]:
    """Automatic trading (the trader's switch and the trading gate), the risk state and the last fill
    of the account (the strategy engine's state is `engine_overview`). `gate`: the trading gate when
    already read; `newest_fill`: the account's newest fill when the caller has one (today's feed)."""
    from apps.risk.services.gate import gate_status
    from apps.trades.models import Fill

    gate = gate if gate is not None else gate_status()
    last_fill = newest_fill or (
        Fill.objects.filter(order__account_no=account_no)
        .order_by("-executed_at")
        .values_list("executed_at", flat=True)
        .first()
    )
    return {
        "gate": gate,
        "risk_label": risk_labels().get(gate["state"], gate["state"]),
        "last_fill_at": last_fill,
    }


# --- the day's feed -------------------------------------------------------------------------------------
# Each source reads its newest `limit` rows; only the `limit` newest of all three become feed items (their
# links and labels are built for those alone).
def _signal_rows(day: dt.date, limit: int) -> list[Any]:
    from apps.strategy.models import Signal

    return list(Signal.objects.filter(day=day).order_by("-at", "-id")[:limit])


def _signal_item(s: Any) -> dict[str, Any]:
    return {
        "kind": "signal",
        "id": s.pk,
        "at": s.at,
        "source": s.strategy,
        "code": s.code,
        "name": s.name,
        "side": s.side,
        "detail": s.reason,
        "status": s.status,
        "status_label": s.get_status_display(),
        "url": reverse("signal-detail", args=[s.pk]),
    }


def _fill_rows(account_no: str, start: dt.datetime, limit: int) -> list[Any]:
    from apps.trades.models import Fill

    return list(
        Fill.objects.filter(order__account_no=account_no, executed_at__gte=start)
        .select_related("order")
        .only("quantity", "price", "executed_at", "order__code", "order__name", "order__side")
        .order_by("-executed_at", "-id")[:limit]
    )


def _fill_item(f: Any) -> dict[str, Any]:
    from apps.core.templatetags.stockagent import krw

    price = int(f.price.to_integral_value())
    return {
        "kind": "fill",
        "id": f.pk,
        "at": f.executed_at,
        "source": "",  # "체결", written by the template (as the live rows' label is)
        "code": f.order.code,
        "name": f.order.name,
        "side": f.order.side,
        "detail": _("%(qty)s주 @ %(price)s") % {"qty": f.quantity, "price": krw(price)},
        "status": "filled",
        "status_label": "",
        "url": reverse("trades:order", args=[f.order_id]),
    }


def _condition_rows(start: dt.datetime, limit: int) -> list[Any]:
    from apps.conditions.models import ConditionEvent

    return list(
        ConditionEvent.objects.filter(at__gte=start)
        .select_related("condition")
        .only("code", "name", "kind", "at", "price", "condition__name")
        .order_by("-at", "-id")[:limit]
    )


def _condition_item(e: Any) -> dict[str, Any]:
    from apps.core.templatetags.stockagent import krw

    return {
        "kind": "condition",
        "id": e.pk,
        "at": e.at,
        "source": e.condition.name,
        "code": e.code,
        "name": e.name,
        "side": e.kind,
        "detail": krw(e.price),
        "status": e.kind,
        "status_label": e.get_kind_display(),
        "url": reverse("conditions:detail", args=[e.condition_id]),
    }


def day_feed(account_no: str, now: dt.datetime, limit: int = FEED_SIZE) -> list[dict[str, Any]]:
    """The newest `limit` signals, fills and condition hits of the exchange day of `now`, newest first
    (three bounded queries)."""
    return _day_feed(account_no, now, limit)[0]


def _day_feed(
    account_no: str, now: dt.datetime, limit: int
) -> tuple[list[dict[str, Any]], dt.datetime | None]:
    """The feed and the account's newest fill when it is of the day (the first fill row: the fills are
    read newest first, with no upper bound), else None."""
    start = day_start(now)
    fills = _fill_rows(account_no, start, limit)
    rows = (
        [(s.at, _signal_item, s) for s in _signal_rows(start.date(), limit)]
        + [(f.executed_at, _fill_item, f) for f in fills]
        + [(e.at, _condition_item, e) for e in _condition_rows(start, limit)]
    )
    rows.sort(key=lambda row: row[0], reverse=True)  # stable: signals, fills, hits at the same time
    labels = side_labels()
    items = []
    for _at, build, row in rows[:limit]:
        item = build(row)
        item["side_label"] = labels.get(item["side"], item["side"])
        items.append(item)
    return items, (fills[0].executed_at if fills else None)


# --- the page -------------------------------------------------------------------------------------------
def overview(now: dt.datetime | None = None) -> dict[str, Any]:
    """The overview page's context. Each thing is read once and handed down (issue 17): the active
    account, the risk state, the runtime switches (the trading switch is one of them), the latest balance
    snapshot (the summary, the holdings' prices, whether there is a curve today), the positions (their
    count is the engine's `active_positions`) and today's fills (the newest is the last fill)."""
    from apps.accounts.credentials import credentials_of
    from apps.accounts.selectors import account_active, account_no_of, balance_latest
    from apps.broker.backends import exchange_now, request_budget
    from apps.core.selectors import flags_with_last_change
    from apps.risk.services.gate import TRADING_FLAG, gate_status
    from apps.strategy.status import engine_overview
    from apps.trades.listing import positions_live

    now = now or exchange_now()
    start = day_start(now)
    account = account_active()
    account_no = account_no_of(account)
    snapshot = balance_latest(account) if account is not None else None
    flags = flags_with_last_change()
    gate = gate_status(switch=any(f.key == TRADING_FLAG and f.enabled for f in flags))
    feed, newest_fill = _day_feed(account_no, now, FEED_SIZE)
    return {
        "account": account,
        "balance": account_summary(snapshot),
        "positions": positions_live(account_no, snapshot),
        "feed": feed,
        "equity": equity_curve(account, start, snapshot),
        "system": system_state(account_no, gate, newest_fill),
        "side_labels": side_labels(),
        "risk_labels": risk_labels(),
        "today": now.astimezone(KST).date(),
        "flags": flags,
        # The request budget needs the account's hosts only (no credentials generation read).
        "budget": request_budget(credentials_of(account, generation_value="")),
        **engine_overview(gate),
    }


def overview_positions() -> list[dict[str, Any]]:
    """The position cards alone (the page reloads them when a fill changes a quantity)."""
    from apps.accounts.selectors import active_account_no
    from apps.trades.listing import positions_live

    return positions_live(active_account_no())
