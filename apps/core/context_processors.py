"""Template context for every page: the system status strip and the user's role."""

from __future__ import annotations

from apps.core.permissions import can_trade
from apps.core.selectors import health_report


def system_status(request) -> dict:
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {"health": health_report(probe=False), "can_trade": can_trade(user)}
