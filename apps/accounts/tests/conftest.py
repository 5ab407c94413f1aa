from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.accounts import hooks
from apps.broker.backends import get_broker, reset_broker
from apps.broker.backends.memory import MemoryBroker


@pytest.fixture
def memory_broker(settings) -> Iterator[MemoryBroker]:
    settings.BROKER_BACKEND = "memory"
    settings.KIWOOM_USE_SIMULATOR = False  # the exchange clock is the (frozen) wall clock
    reset_broker()
    broker = get_broker()
    assert isinstance(broker, MemoryBroker)
    yield broker
    reset_broker()


@pytest.fixture
def open_orders() -> Iterator[dict[str, int]]:
    """A stub of the trades app's open-order count: set `open_orders[account_no] = n`."""
    counts: dict[str, int] = {}

    def counter(account_no: str) -> int:
        return counts.get(account_no, 0)

    hooks.register_open_orders(counter)
    yield counts
    hooks.unregister_open_orders(counter)
