"""What every strategy is: a pure object fed typed events that returns signals (no Django, no I/O)."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .events import Event, Signal


@dataclass(frozen=True, slots=True)
class StrategySettings:
    """One strategy's active configuration (a version of the `StrategyConfig` table)."""

    name: str
    version: int
    enabled: bool
    budget_krw: int  # the most this strategy may hold at once (entries are sized within it)
    params: Mapping[str, Any] = field(default_factory=dict)


class Strategy(abc.ABC):
    """A rule. `on_event` is called for every event in exchange-time order and returns the signals it
    decides on now (usually none). It must be deterministic: the same events give the same signals
    (live, paper and backtest run the same code)."""

    name: ClassVar[str]

    def __init__(self, settings: StrategySettings) -> None:
        self.settings = settings

    @abc.abstractmethod
    def on_event(self, event: Event) -> list[Signal]: ...
