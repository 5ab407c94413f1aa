"""The exit policy the risk engine applies to held positions, as plain data.

Framework-free on purpose: the realtime exit evaluator and the backtester read an `ExitPolicy`
without touching the database. The risk configuration (the versioned `risk` models) installs a
provider with `set_exit_policy_provider`; until one is installed, `exit_policy()` gives the seed
004 defaults (stop-loss -3%, no take-profit, no trailing stop, a time exit before the close).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["DEFAULT_EXIT_POLICY", "ExitPolicy", "exit_policy", "set_exit_policy_provider"]


@dataclass(frozen=True, slots=True)
class ExitPolicy:
    """Percentages are of the position's average price; losses are negative (-3 means -3%)."""

    stop_loss_pct: Decimal = Decimal("-3")
    take_profit_pct: Decimal | None = None
    # Sell when the price falls this many percent below the highest price seen since entry.
    trailing_stop_pct: Decimal | None = None
    # Sell every position this many minutes before the regular session's close (None: no time exit).
    exit_before_close_minutes: int | None = 10
    # The risk configuration version this policy came from (None: the built-in defaults).
    version: int | None = None


DEFAULT_EXIT_POLICY = ExitPolicy()

_provider: Callable[[], ExitPolicy] | None = None


def set_exit_policy_provider(provider: Callable[[], ExitPolicy] | None) -> None:
    global _provider
    _provider = provider


def exit_policy() -> ExitPolicy:
    """The exit policy in force (the provider must be cheap: it is called per tick)."""
    return _provider() if _provider is not None else DEFAULT_EXIT_POLICY
