"""Template context for every page: the system status strip (health, the exchange's clock and the market
phase) and the user's role."""

from __future__ import annotations

from apps.core.permissions import can_trade
from apps.core.selectors import health_report
from apps.market.status import market_status


def system_status(request) -> dict:
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {
        "health": health_report(probe=False),
        "market": market_status(),
        "can_trade": can_trade(user),
    }
