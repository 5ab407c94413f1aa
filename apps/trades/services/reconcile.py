"""Reconciliation with the broker: ka10075 open orders, ka10076 fills, kt00018 holdings.

`reconcile()` (the `reconcile` command, the beat task, process start, the hub's reconnect hook):
0. `new` orders older than `TRADES_RECONCILE_NEW_GRACE_SECONDS` were never claimed: their
   `trades.order_send` task was lost (a worker killed with the message taken, or a purged queue) →
   `rejected`, so a task that turns up later finds nothing to send (claiming needs `new`);
1. `submitted` orders older than the order-call time limit are `unknown` (their sender died: a
   `kill -9` mid-call);
2. reads the broker's open orders, fills and holdings (outside any transaction);
3. resolves each `unknown` order by code, side, quantity, price (and the original order number for an
   amend), taking the earliest broker order no local order claims; an unknown order the broker does
   not have after the grace period was never taken → `rejected` (its reservation released);
4. applies every broker report to our orders: missed fills are inserted (the same idempotent
   `fill_apply` as the 00 frames), statuses follow; a live order the broker no longer lists and never
   filled → cancelled;
5. compares holdings per code. A difference still there after one re-read is unexplained: through
   the trading gate the risk state goes HALTED (new entries stop, exits pass; journalled, notified,
   pushed live), and the `ReconciliationRun` keeps both sides' numbers for the dashboard.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.broker.contract import Broker, BrokerError, Holding
from apps.broker.contract import OrderStatus as BS

from ..models import (
    OPEN_STATUSES,
    FillSource,
    Order,
    OrderKind,
    Position,
    ReconcileTrigger,
    ReconciliationRun,
)
from ..models import OrderStatus as S
from .events import (
    BrokerOrderReport,
    report_apply,
    report_from_fill,
    report_from_open_order,
)
from .orders import amend_accepted
from .state import can_transition, transition
from .txn import require_no_transaction

log = logging.getLogger(__name__)

__all__ = ["ReconcileResult", "orders_expire", "reconcile"]


@dataclass
class ReconcileResult:
    run: ReconciliationRun
    resolved: list[str] = field(default_factory=list)
    inserted_fills: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)


def _settings_seconds(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def reconcile(
    broker: Broker | None = None,
    *,
    trigger: str = ReconcileTrigger.MANUAL,
    account_no: str | None = None,
    unknown_grace_seconds: float | None = None,
    submitted_grace_seconds: float | None = None,
    new_grace_seconds: float | None = None,
) -> ReconcileResult:
    from .executor import default_account

    if broker is None:
        from apps.broker.backends import get_broker

        broker = get_broker()
    account = account_no if account_no is not None else default_account()
    require_no_transaction("reconcile() (it reads the broker)")
    unknown_grace = (
        unknown_grace_seconds
        if unknown_grace_seconds is not None
        else _settings_seconds("TRADES_RECONCILE_UNKNOWN_GRACE_SECONDS", 3)
    )
    submitted_grace = (
        submitted_grace_seconds
        if submitted_grace_seconds is not None
        else _settings_seconds("TRADES_RECONCILE_SUBMITTED_GRACE_SECONDS", 20)
    )
    new_grace = (
        new_grace_seconds
        if new_grace_seconds is not None
        else _settings_seconds("TRADES_RECONCILE_NEW_GRACE_SECONDS", 120)
    )
    run = ReconciliationRun.objects.create(account_no=account, trigger=trigger)
    result = ReconcileResult(run=run)
    try:
        _stale_new(account, new_grace)
        _stale_submitted(account, submitted_grace)
        started = timezone.now()
        reports = _broker_reports(broker)
        fills_before = _fill_count(account)
        result.resolved = _resolve_unknown(account, reports, unknown_grace, started)
        _apply_reports(account, reports, started)
        result.inserted_fills = _fill_count(account) - fills_before
        local, remote = _compare(account, broker.holdings())
        if local != remote:
            # A fill may have landed between the reads: read once more before calling it a difference.
            reports = _broker_reports(broker)
            _apply_reports(account, reports, timezone.now())
            result.inserted_fills = _fill_count(account) - fills_before
            local, remote = _compare(account, broker.holdings())
        result.differences = [
            {"code": code, "local": local.get(code, 0), "broker": remote.get(code, 0)}
            for code in sorted(set(local) | set(remote))
            if local.get(code, 0) != remote.get(code, 0)
        ]
    except BrokerError as exc:
        run.ok = False
        run.error = f"broker unavailable: {exc}"[:2000]
        run.finished_at = timezone.now()
        run.save()
        log.warning("reconcile: %s", run.error)
        return result
    run.resolved_orders = len(result.resolved)
    run.inserted_fills = result.inserted_fills
    run.local_positions, run.broker_positions = local, remote
    run.differences = result.differences
    run.ok = not result.differences
    run.finished_at = timezone.now()
    if result.differences:
        run.gate_closed = _close_gate(run)
    run.save()
    return result


def _fill_count(account: str) -> int:
    from ..models import Fill

    return Fill.objects.filter(order__account_no=account).count()


def _stale_new(account: str, grace: float) -> None:
    """A `new` row is only ever sent by the one caller that claims it (new → submitted): ending it
    here under the row lock means its lost task, if it ever runs, sends nothing."""
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    for pk in Order.objects.filter(
        account_no=account, status=S.NEW, created_at__lt=cutoff
    ).values_list("pk", flat=True):
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=pk)
            if order.status == S.NEW:
                transition(
                    order,
                    S.REJECTED,
                    cause="reconcile:never_sent",
                    message="전송 작업이 실행되지 않은 주문 (전송되지 않음)",
                )


def _stale_submitted(account: str, grace: float) -> None:
    cutoff = timezone.now() - dt.timedelta(seconds=grace)
    for pk in Order.objects.filter(
        account_no=account, status=S.SUBMITTED, submitted_at__lt=cutoff
    ).values_list("pk", flat=True):
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=pk)
            if order.status == S.SUBMITTED:
                transition(order, S.UNKNOWN, cause="reconcile:stale_submitted")


def _broker_reports(broker: Broker) -> dict[str, BrokerOrderReport]:
    """One report per broker order number: the open-order row (exact cumulative amount) wins over the
    fills row (amount rebuilt from an average price)."""
    reports: dict[str, BrokerOrderReport] = {}
    for f in broker.fills():
        known = reports.get(f.order_no)
        if known is None or f.fill_quantity > known.cum_quantity:
            reports[f.order_no] = report_from_fill(f, FillSource.RECONCILE)
    for o in broker.open_orders():
        reports[o.order_no] = report_from_open_order(o, FillSource.RECONCILE)
    return reports


def _resolve_unknown(
    account: str, reports: dict[str, BrokerOrderReport], grace: float, started: dt.datetime
) -> list[str]:
    resolved: list[str] = []
    claimed = set(
        Order.objects.filter(account_no=account, broker_order_no__in=list(reports)).values_list(
            "broker_order_no", flat=True
        )
    )
    unknown = Order.objects.filter(account_no=account, status=S.UNKNOWN, broker_order_no="")
    for order in unknown.order_by("created_at"):
        # Another order of the same (code, side) still waiting for its reply could own the match.
        if Order.objects.filter(
            account_no=account, code=order.code, side=order.side, status=S.SUBMITTED
        ).exists():
            continue
        match = _match(order, reports, claimed)
        if match is not None:
            claimed.add(match.order_no)
            _adopt(order, match)
            resolved.append(str(order.pk))
            continue
        sent_at = order.submitted_at or order.created_at
        if (started - sent_at).total_seconds() >= grace:
            with transaction.atomic():
                locked = Order.objects.select_for_update().get(pk=order.pk)
                if locked.status == S.UNKNOWN and not locked.broker_order_no:
                    transition(
                        locked,
                        S.REJECTED,
                        cause="reconcile:not_at_broker",
                        message="브로커에 없는 주문 (전송되지 않음)",
                    )
                    resolved.append(str(order.pk))
    return resolved


def _match(
    order: Order, reports: dict[str, BrokerOrderReport], claimed: set[str]
) -> BrokerOrderReport | None:
    parent_no = ""
    if order.kind == OrderKind.AMEND and order.parent_id:
        parent_no = order.original_order_no
    candidates = [
        r
        for r in reports.values()
        if r.order_no not in claimed
        and r.code == order.code
        and r.side == order.side
        and (r.quantity == order.quantity or (parent_no and r.original_order_no == parent_no))
        and (order.price is None or r.price in (None, order.price))
        and (not parent_no or r.original_order_no == parent_no)
    ]
    # Broker order numbers grow with time: the earliest unclaimed one is the oldest order.
    candidates.sort(key=lambda r: r.order_no)
    return candidates[0] if candidates else None


def _adopt(order: Order, report: BrokerOrderReport) -> None:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != S.UNKNOWN:
            return
        if locked.kind == OrderKind.AMEND and locked.parent_id:
            parent = Order.objects.select_for_update().get(pk=locked.parent_id)
            amend_accepted(parent, locked, report.order_no, report.quantity)
        else:
            locked.broker_order_no = report.order_no
            locked.save(update_fields=["broker_order_no", "updated_at"])
    report_apply(report)


def _apply_reports(
    account: str, reports: dict[str, BrokerOrderReport], started: dt.datetime
) -> None:
    seen: set[str] = set()
    for report in reports.values():
        order = Order.objects.filter(account_no=account, broker_order_no=report.order_no).first()
        if order is None:
            continue
        seen.add(report.order_no)
        if not report.is_open and report.status not in (BS.FILLED, BS.CANCELLED, BS.REJECTED):
            report = _closed(report)
        report_apply(report, order)
    # Live orders the broker lists nowhere: gone without a fill (cancelled at the broker, expired).
    # Only orders the broker had acknowledged before the reads began: one acknowledged during the
    # reads may be missing from them without being gone.
    gone = Order.objects.filter(
        account_no=account,
        status__in=[s for s in OPEN_STATUSES if s != S.SUBMITTED],
        accepted_at__lt=started,
    ).exclude(broker_order_no="")
    for order in gone:
        if order.broker_order_no in seen or order.broker_order_no in reports:
            continue
        if order.kind == OrderKind.AMEND and order.status == S.UNKNOWN:
            continue
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if locked.status in OPEN_STATUSES and can_transition(locked.status, S.CANCELLED):
                if locked.filled_quantity == 0 and locked.status == S.UNKNOWN:
                    transition(locked, S.REJECTED, cause="reconcile:not_at_broker")
                else:
                    transition(locked, S.CANCELLED, cause="reconcile:not_open")


def _closed(report: BrokerOrderReport) -> BrokerOrderReport:
    from dataclasses import replace

    status = BS.FILLED if report.cum_quantity >= report.quantity else BS.CANCELLED
    return replace(report, status=status)


def _compare(account: str, holdings: Iterable[Holding]) -> tuple[dict[str, int], dict[str, int]]:
    remote = {h.code: h.quantity for h in holdings if h.quantity}
    local = dict(
        Position.objects.filter(account_no=account, quantity__gt=0).values_list("code", "quantity")
    )
    return local, remote


def _close_gate(run: ReconciliationRun) -> bool:
    """Through the trading gate: an unexplained difference → HALTED (exits still pass), journalled
    with the numbers, notified and pushed live by the risk engine."""
    from apps.risk.services.gate import reconcile_halt

    summary = ", ".join(
        f"{d['code']} 로컬 {d['local']} / 브로커 {d['broker']}" for d in run.differences
    )
    closed = reconcile_halt(
        summary, {"differences": run.differences, "run": run.pk}, account_no=run.account_no
    )
    log.error("reconcile: unexplained difference (%s); risk state HALTED", summary)
    return closed


def orders_expire(broker: Broker | None = None, *, account_no: str | None = None) -> int:
    """After the close: reconcile, then every order still live (day orders end with the session) is
    `expired`, its sell reservation released. Returns how many expired."""
    from .executor import default_account

    account = account_no if account_no is not None else default_account()
    reconcile(broker, trigger=ReconcileTrigger.SCHEDULE, account_no=account)
    expired = 0
    live = Order.objects.filter(
        account_no=account, status__in=[S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCEL_PENDING]
    )
    for pk in live.values_list("pk", flat=True):
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=pk)
            if can_transition(order.status, S.EXPIRED):
                transition(order, S.EXPIRED, cause="close")
                expired += 1
    return expired
