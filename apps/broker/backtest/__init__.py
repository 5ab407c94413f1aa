"""The in-process backtest broker (the `Broker` contract on a historical clock, built from the
simulator's matching book and account ledger) and corporate-action adjustment of bars. Pure
Python: no Django, no sockets."""

from .adjust import SAMSUNG_SPLIT_2018, CorporateAction, DailyClose, adjust_bars, detect_actions
from .broker import BacktestBroker
from .events import BacktestBalanceEvent, BacktestOrderEvent

__all__ = [
    "SAMSUNG_SPLIT_2018",
    "BacktestBalanceEvent",
    "BacktestBroker",
    "BacktestOrderEvent",
    "CorporateAction",
    "DailyClose",
    "adjust_bars",
    "detect_actions",
]
