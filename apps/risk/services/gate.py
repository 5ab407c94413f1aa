"""The trading gate (DESIGN.md, "The trading gate"): the one service every surface calls.

Automatic entries run only while the trader's switch (`trading-enabled`) is on AND the risk state is
ACTIVE; REDUCING allows only orders that shrink exposure, HALTED exits only (the pre-trade check,
`apps.risk.check`, applies this to every intent). Surfaces: the system page's switch and
`PATCH /api/v1/flags/trading-enabled` (apps.core), `POST /api/v1/system/start|stop`, the risk page and
`POST /api/v1/risk/halt|reduce|resume`, reconciliation (`reconcile_halt`), the books (a fill that
breaches the daily loss: `services.state.evaluate_locked`). Every change is journalled (the switch's
`RuntimeFlagEvent`, the state's `RiskStateEvent`) with who and why, notified and pushed live as
`risk_state`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.core.live import publish_after_commit

from ..models import RiskStateEvent, RiskStatus, State
from ..snapshot import TRADING_FLAG, switch_on
from .state import state_set

__all__ = [
    "TRADING_FLAG",
    "entries_allowed",
    "gate_status",
    "halt",
    "reconcile_halt",
    "reduce",
    "resume",
    "switch_set",
]


_switch = switch_on


def gate_status(state: str | None = None, switch: bool | None = None) -> dict[str, Any]:
    """{state, switch, entries_allowed}: what the pages, the API and `risk_state` pushes show. A caller
    that has read the state or the switch already passes it (None: read here)."""
    if state is None:
        state = RiskStatus.objects.filter(pk=1).values_list("state", flat=True).first()
        state = state or State.ACTIVE
    if switch is None:
        switch = _switch()
    return {"state": state, "switch": switch, "entries_allowed": switch and state == State.ACTIVE}


def entries_allowed() -> bool:
    """May automatic entries be sent now? (a strategy asks before it even builds an intent)."""
    return bool(gate_status()["entries_allowed"])


def switch_set(on: bool, *, user: AbstractBaseUser | None, reason: str = "") -> bool:
    """The trader's switch: the `trading-enabled` runtime flag, journalled by apps.core. Returns
    whether it changed."""
    from apps.core.services import flag_set
    from apps.notifications.models import NotificationKind
    from apps.notifications.services import notify

    with transaction.atomic():
        before = _switch()
        flag_set(TRADING_FLAG, on, user=user, reason=reason)
        if before == on:
            return False
        who = user.get_username() if user else "자동"
        notify(
            NotificationKind.SYSTEM,
            title="자동매매 " + ("시작" if on else "정지"),
            body=f"{reason} ({who})".strip(),
            data={"switch": on},
        )
        payload = gate_status()
        payload.update({"cause": "switch", "reason": reason, "by": user and user.get_username()})
        publish_after_commit("risk_state", payload)
    return True


def halt(
    *, user: AbstractBaseUser | None, reason: str, cause: str = "trader"
) -> RiskStateEvent | None:
    return state_set(State.HALTED, cause=cause, reason=reason, user=user)


def reduce(
    *, user: AbstractBaseUser | None, reason: str, cause: str = "trader"
) -> RiskStateEvent | None:
    return state_set(State.REDUCING, cause=cause, reason=reason, user=user)


def resume(
    *, user: AbstractBaseUser | None, reason: str, cause: str = "trader"
) -> RiskStateEvent | None:
    return state_set(State.ACTIVE, cause=cause, reason=reason, user=user)


def reconcile_halt(summary: str, data: dict[str, Any], account_no: str = "") -> bool:
    """An unexplained reconciliation difference: HALTED (exits still pass). True once halted."""
    state_set(
        State.HALTED,
        cause="reconcile",
        reason=f"대사 불일치: {summary}",
        account_no=account_no,
        data=data,
    )
    return True
