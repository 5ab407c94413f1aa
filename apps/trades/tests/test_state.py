"""The order state machine: every (from, to) pair of the table, journalled; everything else refused."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from apps.trades.models import FINAL_STATUSES, OrderStatus, OrderTransition, Position
from apps.trades.services import TRANSITIONS, InvalidTransition, transition

from .factories import OrderFactory, PositionFactory

pytestmark = pytest.mark.django_db

ALL = [s.value for s in OrderStatus]
PAIRS = [(a, b) for a, b in itertools.product(ALL, ALL) if a != b]

# The happy paths the issue names, as rows: a path of statuses that must all be allowed.
PATHS = [
    ["new", "submitted", "accepted", "partially_filled", "filled"],
    ["new", "submitted", "accepted", "cancel_pending", "cancelled"],
    ["new", "submitted", "rejected"],
    ["new", "submitted", "unknown", "accepted", "filled"],
    ["new", "submitted", "unknown", "rejected"],
    ["new", "submitted", "accepted", "expired"],
    ["new", "submitted", "accepted", "partially_filled", "cancel_pending", "filled"],
    ["new", "submitted", "accepted", "replaced"],
]


@pytest.mark.parametrize(("frm", "to"), PAIRS)
def test_transition_table(frm: str, to: str) -> None:
    order = OrderFactory(status=frm)
    allowed = to in TRANSITIONS[frm]
    with transaction.atomic():
        if allowed:
            transition(order, to, cause="test", message="msg")
        else:
            with pytest.raises(InvalidTransition):
                transition(order, to, cause="test")
    order.refresh_from_db()
    assert order.status == (to if allowed else frm)
    rows = list(OrderTransition.objects.filter(order=order).values_list("from_status", "to_status"))
    assert rows == ([(frm, to)] if allowed else [])


@pytest.mark.parametrize("path", PATHS)
def test_paths(path: list[str]) -> None:
    order = OrderFactory(status=path[0])
    with transaction.atomic():
        for status in path[1:]:
            transition(order, status)
    assert list(order.transitions.values_list("to_status", flat=True)) == path[1:]


def test_final_states_have_no_way_out() -> None:
    for status in FINAL_STATUSES:
        assert TRANSITIONS[status] == frozenset()


def test_final_state_releases_the_sell_reservation() -> None:
    PositionFactory(quantity=10, reserved=6)
    order = OrderFactory(side="sell", quantity=6, reserved_quantity=6)
    with transaction.atomic():
        transition(order, "cancelled", cause="test")
    assert Position.objects.get().reserved == 0
    order.refresh_from_db()
    assert order.reserved_quantity == 0 and order.finished_at is not None
