"""The pre-trade check every order intent passes: a hook the risk issue replaces.

Until the risk engine lands, the trading gate is the runtime switch `trading-enabled`: it stops new
automatic entries (strategy buys) and never blocks exits or a trader's manual orders (DESIGN.md,
"The trading gate").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.core.models import RuntimeFlag

if TYPE_CHECKING:
    from .executor import OrderIntent

TRADING_FLAG = "trading-enabled"


def trading_enabled() -> bool:
    return RuntimeFlag.objects.filter(key=TRADING_FLAG, enabled=True).exists()


def check(intent: OrderIntent) -> None:
    """Raise `OrderRefused` when the intent may not be sent."""
    from ..models import Cause, Side
    from .executor import OrderRefused

    if intent.cause == Cause.SIGNAL and intent.side == Side.BUY and not trading_enabled():
        raise OrderRefused("자동매매가 꺼져 있어 신규 진입 주문을 보내지 않습니다", "gate_closed")
