"""The engine: fans every event out to the enabled strategies and fires each signal key once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .base import Strategy
from .events import Event, Signal


class Engine:
    def __init__(self, strategies: Sequence[Strategy]) -> None:
        self.strategies = list(strategies)
        self.fired: set[str] = set()

    def mark_fired(self, keys: Iterable[str]) -> None:
        """Signals already stored (a restart mid-session): never fired again."""
        self.fired.update(keys)

    def on_event(self, event: Event) -> list[Signal]:
        out: list[Signal] = []
        for strategy in self.strategies:
            if not strategy.settings.enabled:
                continue
            for signal in strategy.on_event(event):
                if signal.key and signal.key in self.fired:
                    continue
                if signal.key:
                    self.fired.add(signal.key)
                out.append(signal)
        return out
