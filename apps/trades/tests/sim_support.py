"""Re-exports for the tests: the simulator helpers live in `apps.trades.testing` (benches use them too)."""

from apps.trades.testing import Feed, trading_sim

__all__ = ["Feed", "trading_sim"]
