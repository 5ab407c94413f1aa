"""Writes of the trades app. Callers import from `apps.trades.services`.

Modules: `state` (the order state machine and its journal), `books` (fills → orders, positions, trade
log), `executor` (intent → order → one broker call), `orders` (cancel, amend, chase), `events` (broker
reports from 00 frames and polls → the books), `reconcile` (with the broker), `risk_hook` (the
pre-trade check the risk issue replaces), `split` (split parents over time or by book depth; imported
from `apps.trades.services.split`).
"""

from .aorder import aorder_create, aorder_submit
from .books import FillReport, fill_apply, fill_apply_report, position_pnl
from .events import (
    Applied,
    BrokerOrderReport,
    report_apply,
    report_from_event,
    report_from_fill,
    report_from_open_order,
)
from .executor import (
    OrderIntent,
    OrderRefused,
    capped_price,
    order_claim,
    order_create,
    order_enqueue,
    order_record,
    order_send,
    order_split_submit,
    order_submit,
    split_quantities,
)
from .orders import order_amend, order_cancel, order_chase_step
from .reconcile import ReconcileResult, orders_expire, reconcile
from .state import TRANSITIONS, InvalidTransition, transition

__all__ = [
    "TRANSITIONS",
    "Applied",
    "BrokerOrderReport",
    "FillReport",
    "InvalidTransition",
    "OrderIntent",
    "OrderRefused",
    "ReconcileResult",
    "aorder_create",
    "aorder_submit",
    "capped_price",
    "fill_apply",
    "fill_apply_report",
    "order_amend",
    "order_cancel",
    "order_chase_step",
    "order_claim",
    "order_create",
    "order_enqueue",
    "order_record",
    "order_send",
    "order_split_submit",
    "order_submit",
    "orders_expire",
    "position_pnl",
    "reconcile",
    "report_apply",
    "report_from_event",
    "report_from_fill",
    "report_from_open_order",
    "split_quantities",
    "transition",
]
