"""Writes of the risk app, one module per concern: `lock` (the per-account lock), `config` (new
configuration versions), `state` (risk state changes, the post-fill evaluation), `gate` (the trading
gate every surface calls), `pretrade` (snapshot + check + refusal under the lock), `liquidation` (the
emergency liquidation: cancel everything, sell everything)."""
