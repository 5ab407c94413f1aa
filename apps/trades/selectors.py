"""Reads of the trades app: what pages, the API and other apps ask about orders and positions."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import (
    OPEN_STATUSES,
    SPLIT_OPEN_STATUSES,
    Fill,
    Order,
    Position,
    ReconciliationRun,
    SplitOrder,
    Trade,
)


def open_orders(account_no: str | None = None) -> QuerySet[Order]:
    qs = Order.objects.filter(status__in=OPEN_STATUSES)
    return qs.filter(account_no=account_no) if account_no is not None else qs


def open_splits(account_no: str | None = None) -> QuerySet[SplitOrder]:
    """Split parents whose schedule still runs (or is being cancelled)."""
    qs = SplitOrder.objects.filter(status__in=SPLIT_OPEN_STATUSES)
    return qs.filter(account_no=account_no) if account_no is not None else qs


def splits_recent(limit: int = 20) -> QuerySet[SplitOrder]:
    return SplitOrder.objects.select_related("created_by").order_by("-created_at")[:limit]


def split_children(split: SplitOrder) -> QuerySet[Order]:
    return Order.objects.filter(split=split).order_by("split_index", "created_at")


def has_open_orders(account_no: str) -> bool:
    """What the accounts app asks before switching the active account."""
    return open_orders(account_no).exists()


def positions(account_no: str | None = None) -> QuerySet[Position]:
    qs = Position.objects.filter(quantity__gt=0)
    return qs.filter(account_no=account_no) if account_no is not None else qs


def order_fills(order: Order) -> QuerySet[Fill]:
    return order.fills.order_by("cum_quantity")


def trades(account_no: str | None = None) -> QuerySet[Trade]:
    qs = Trade.objects.all()
    return qs.filter(account_no=account_no) if account_no is not None else qs


def last_reconciliation(account_no: str | None = None) -> ReconciliationRun | None:
    qs = ReconciliationRun.objects.all()
    if account_no is not None:
        qs = qs.filter(account_no=account_no)
    return qs.order_by("-started_at").first()
