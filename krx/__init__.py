"""KRX market rules as plain functions, free of Django and of any broker.

Tick sizes, price limits, VI thresholds, the session phase table, the trading calendar with the
수능 late opens, commission and the dated sell tax. The exchange simulator, the market app,
trades and backtests all import this package. Every rule that depends on a date takes it as a
required argument: nothing here reads the wall clock.

Modules: `markets` (KST, Market), `ticks`, `limits`, `sessions`, `fees`, and `calendar`
(exchange-calendars XKRX; pandas is imported on first use, so `import krx` stays cheap).
"""

from __future__ import annotations

from .fees import (
    DEFAULT_COMMISSION_RATE,
    TAX_TABLE,
    ceil_rate,
    ceil_won,
    commission,
    floor_rate,
    floor_won,
    order_fees,
    sell_tax,
    sell_tax_rate,
)
from .limits import (
    LIMIT_30PCT_SINCE,
    STATIC_VI_RATE,
    VI_DURATION,
    change_sign,
    clamp_to_limits,
    price_limits,
    vi_thresholds,
)
from .markets import KST, Market
from .sessions import REGULAR_PHASES, Session, SessionPhase, regular_phase, regular_session
from .ticks import (
    UNIFIED_TICK_TABLE_SINCE,
    is_on_tick,
    step_ticks,
    tick_round,
    tick_size,
    tick_table,
)

__all__ = [
    "DEFAULT_COMMISSION_RATE",
    "KST",
    "LIMIT_30PCT_SINCE",
    "REGULAR_PHASES",
    "STATIC_VI_RATE",
    "TAX_TABLE",
    "UNIFIED_TICK_TABLE_SINCE",
    "VI_DURATION",
    "Market",
    "Session",
    "SessionPhase",
    "ceil_rate",
    "ceil_won",
    "change_sign",
    "clamp_to_limits",
    "commission",
    "floor_rate",
    "floor_won",
    "is_on_tick",
    "order_fees",
    "price_limits",
    "regular_phase",
    "regular_session",
    "sell_tax",
    "sell_tax_rate",
    "step_ticks",
    "tick_round",
    "tick_size",
    "tick_table",
    "vi_thresholds",
]
