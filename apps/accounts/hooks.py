"""Questions the accounts app asks other apps without importing their internals.

The trades app registers how many orders are still open on an account (`register_open_orders`); until
something is registered, an account has none. Keeps the dependency one-way: trades → accounts.
"""

from __future__ import annotations

from collections.abc import Callable

OpenOrdersCounter = Callable[[str], int]  # account number → open orders on it

_open_orders: list[OpenOrdersCounter] = []


def register_open_orders(counter: OpenOrdersCounter) -> None:
    if counter not in _open_orders:
        _open_orders.append(counter)


def unregister_open_orders(counter: OpenOrdersCounter) -> None:
    if counter in _open_orders:
        _open_orders.remove(counter)


def open_orders_count(account_no: str) -> int:
    return sum(counter(account_no) for counter in _open_orders)


def trades_open_orders(account_no: str) -> int:
    """The trades app's count (registered by AppConfig.ready when `apps.trades` is installed)."""
    from apps.trades.selectors import open_orders, open_splits

    # A running split parent sends more children later: it counts as open until it ends.
    return open_orders(account_no).count() + open_splits(account_no).count()
