"""Risk state changes (ACTIVE / REDUCING / HALTED) and the automatic ones after a fill.

`state_set` is the one writer: it locks the status row, journals the change (`RiskStateEvent`), and
after commit notifies (`risk.halt` for HALTED/REDUCING, `system` for a resume) and pushes `risk_state`
on /ws/live. `evaluate_locked` runs in the books' fill transaction under the account lock: a fill that
breaches the daily loss limit halts at once (the next check, waiting on the same lock, sees it and
the fresh P&L), one that uses the configured share of the loss budget moves ACTIVE to REDUCING.
`evaluate_on_prices` does the same between fills: the day's P&L counts unrealised P&L, which moves
with prices alone (the realtime risk handler calls it every cycle).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.core.live import publish_after_commit

from ..models import RiskStateEvent, RiskStatus, State

log = logging.getLogger(__name__)

__all__ = [
    "evaluate_locked",
    "evaluate_on_prices",
    "state_payload",
    "state_set",
    "status_locked",
]


def status_locked() -> RiskStatus:
    """The status row, locked (created on first use: a flushed test database has none)."""
    row = RiskStatus.objects.select_for_update().filter(pk=1).first()
    if row is None:
        RiskStatus.objects.bulk_create([RiskStatus(pk=1)], ignore_conflicts=True)
        row = RiskStatus.objects.select_for_update().get(pk=1)
    return row


def state_payload(event: RiskStateEvent | None = None, state: str | None = None) -> dict[str, Any]:
    from .gate import gate_status

    gate = gate_status(state=state)
    if event is not None:
        gate.update(
            {
                "cause": event.cause,
                "reason": event.reason,
                "by": event.author.get_username() if event.author else None,
                "at": event.created_at,
            }
        )
    return gate


def state_set(
    to: str,
    *,
    cause: str,
    reason: str = "",
    user: AbstractBaseUser | None = None,
    account_no: str = "",
    data: dict[str, Any] | None = None,
) -> RiskStateEvent | None:
    """Move the risk state to `to`; None when it already is (nothing written)."""
    if to not in State.values:
        raise ValueError(f"unknown risk state: {to}")
    with transaction.atomic():
        status = status_locked()
        if status.state == to:
            return None
        event = RiskStateEvent.objects.create(
            from_state=status.state,
            to_state=to,
            cause=cause,
            reason=reason[:300],
            author=user,
            account_no=account_no,
            data=data or {},
        )
        status.state = to
        status.changed_at = timezone.now()
        status.save(update_fields=["state", "changed_at"])
        _announce(event)
    return event


def _announce(event: RiskStateEvent) -> None:
    from apps.notifications.models import NotificationKind
    from apps.notifications.services import notify

    labels = {State.ACTIVE: "정상", State.REDUCING: "축소", State.HALTED: "중단"}
    kind = NotificationKind.SYSTEM if event.to_state == State.ACTIVE else NotificationKind.RISK_HALT
    who = event.author.get_username() if event.author else "자동"
    notify(
        kind,
        title=f"리스크 상태 {labels[event.from_state]} → {labels[event.to_state]}",
        body=f"{event.reason} ({who}, {event.cause})".strip(),
        data={"from": event.from_state, "to": event.to_state, "cause": event.cause, **event.data},
    )
    publish_after_commit("risk_state", state_payload(event, event.to_state))
    log.warning(
        "risk state %s -> %s (%s): %s", event.from_state, event.to_state, event.cause, event.reason
    )


def evaluate_locked(account_no: str, at: dt.datetime | None = None) -> RiskStateEvent | None:
    """After a fill (inside its transaction, under the account lock): HALTED when today's loss
    reached the budget, REDUCING when it reached the configured share of it."""
    from ..snapshot import figures_of

    figures = figures_of(account_no, at)
    budget = figures.loss_budget
    if budget is None or figures.pnl >= 0:
        return None
    loss = -figures.pnl
    data = {"pnl": figures.pnl, "budget": budget, "account": account_no}
    state = figures.state
    if loss >= budget and state != State.HALTED:
        return state_set(
            State.HALTED,
            cause="daily_loss",
            reason=f"일일 손실 한도 도달: 오늘 손익 {figures.pnl:,}원 (한도 {budget:,}원)",
            account_no=account_no,
            data=data,
        )
    share = figures.limits.reduce_at_pct
    if loss * 100 >= budget * share and state in (None, State.ACTIVE):
        return state_set(
            State.REDUCING,
            cause="loss_budget",
            reason=f"일일 손실 한도의 {share}% 사용: 오늘 손익 {figures.pnl:,}원",
            account_no=account_no,
            data=data,
        )
    return None


def evaluate_on_prices(account_no: str, at: dt.datetime | None = None) -> RiskStateEvent | None:
    """The daily-loss states on the current marks, without a fill: the day's P&L counts the
    unrealised P&L of the positions at their last prices, so a falling market alone can use the
    loss budget. Read without the lock first (every cycle, almost always nothing to do); only a
    change takes the account lock and decides again on fresh figures (`evaluate_locked`), as a
    fill would."""
    from ..snapshot import figures_of
    from .lock import account_lock

    figures = figures_of(account_no, at)
    budget = figures.loss_budget
    if budget is None or figures.pnl >= 0:
        return None
    loss, state = -figures.pnl, figures.state
    halts = loss >= budget and state != State.HALTED
    reduces = loss * 100 >= budget * figures.limits.reduce_at_pct and state in (None, State.ACTIVE)
    if not (halts or reduces):
        return None
    with transaction.atomic():
        account_lock(account_no)
        return evaluate_locked(account_no, at)
