"""Plain dictionaries of the risk configuration and state (the API's bodies, the page's figures)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .forms import CONFIG_FIELDS, STOP_LOSS_BAND
from .models import RiskConfig, RiskStateEvent, RiskStatus, State
from .selectors import active_config
from .services.gate import gate_status
from .snapshot import figures_of
from .vi import vi_current

__all__ = ["config_dict", "state_dict"]


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def config_dict(row: RiskConfig | None = None) -> dict[str, Any]:
    row = row or active_config().row
    body = {name: _plain(getattr(row, name)) for name in CONFIG_FIELDS}
    body["excluded_kinds"] = sorted(row.excluded_kinds or [])
    warnings = []
    if not STOP_LOSS_BAND[0] <= Decimal(row.stop_loss_pct) <= STOP_LOSS_BAND[1]:
        warnings.append("stop_loss_pct outside the seed's -3…-5% band")
    return {
        "version": row.version if row.pk else None,
        **body,
        "author": row.author.get_username() if row.pk and row.author else None,
        "reason": row.reason,
        "created_at": row.created_at if row.pk else None,
        "warnings": warnings,
    }


def state_dict(account_no: str) -> dict[str, Any]:
    gate = gate_status()
    last = RiskStateEvent.objects.select_related("author").first()
    status = RiskStatus.objects.filter(pk=1).first()
    figures = figures_of(account_no)
    return {
        **gate,
        "since": status.changed_at if status else None,
        "cause": last.cause if last and last.to_state == gate["state"] else None,
        "reason": last.reason if last and last.to_state == gate["state"] else "",
        "by": last.author.get_username() if last and last.author else None,
        "config_version": figures.config_version,
        "account": account_no,
        "day": figures.day,
        "opening_equity": figures.opening_equity,
        "realized_pnl": figures.realized,
        "unrealized_pnl": figures.unrealized,
        "pnl": figures.pnl,
        "loss_budget": figures.loss_budget,
        "loss_budget_left": figures.budget_left,
        "loss_budget_used_pct": _used(figures.pnl, figures.loss_budget),
        "reduce_at_pct": str(figures.limits.reduce_at_pct),
        "exposure": figures.exposure,
        "positions": figures.positions,
        "max_positions": figures.limits.max_positions,
        "states": list(State.values),
        # Codes in a volatility interruption now (entries refused while "vi" is an excluded kind).
        "vi": [state.as_dict() for state in vi_current()],
    }


def _used(pnl: int, budget: int | None) -> str | None:
    if not budget:
        return None
    return str((Decimal(max(-pnl, 0)) * 100 / budget).quantize(Decimal("0.1")))
