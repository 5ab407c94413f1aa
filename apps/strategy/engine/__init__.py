"""The strategy engine: framework-free (no Django, no I/O). Typed events in (`events`), signals out.

`market` keeps the per-code bars, VWAP and opening range; `strategies` holds the built-in rules with their
parameter schemas (`params`); `runner` has the `Engine`, `build_engine` and the `REGISTRY` of strategies.
"""

from .runner import REGISTRY, Engine, build_engine

__all__ = ["REGISTRY", "Engine", "build_engine"]
