"""Writes of the risk app. `liquidation`: the emergency liquidation (cancel everything, sell everything)."""
