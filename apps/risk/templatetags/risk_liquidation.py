"""`{% liquidation_panel as panel %}`: what the emergency-sell partial shows, from the request alone, so any
page can `{% include "risk/_emergency_sell.html" %}` without its view preparing anything."""

from __future__ import annotations

import uuid
from typing import Any

from django import template

from apps.core.permissions import can_trade

register = template.Library()


@register.simple_tag(takes_context=True)
def liquidation_panel(context: dict[str, Any]) -> dict[str, Any]:
    from apps.risk.services.liquidation import liquidation_current

    request = context.get("request")
    user = getattr(request, "user", None)
    try:
        run = liquidation_current()
    except Exception:  # Redis down: the button still works (the request will say what failed)
        run = None
    return {
        "can_trade": can_trade(user),
        "run": run.as_dict() if run else None,
        # One key per rendered page: a double click or a retried request is the same liquidation.
        "key": uuid.uuid4().hex,
    }
