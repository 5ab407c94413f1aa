"""The engine: one shared market state, fanned out to the strategies; each signal key fires once.

`build_engine(settings)` makes an engine of the configured strategies (`REGISTRY` by name);
`Engine.reconfigure(settings)` applies new versions mid-session and keeps the market state (bars,
VWAP, opening ranges), the strategies' own state (scans, news, entries) and the fired keys. Every
strategy sees every event (a strategy switched off still follows scans and news, and still exits what it
entered); a strategy that is off emits no entry — the engine drops its buys as a second guard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from .base import Strategy, StrategySettings, dispatch
from .events import ConditionEvent, Event, NewsEvent, ScanEvent, Signal
from .ma_cross import MaCross
from .market import Market, SessionOf
from .strategies import ConditionEntry, OpeningBreakout

__all__ = ["BUILTINS", "REGISTRY", "RESEARCH", "Engine", "UnknownStrategy", "build_engine"]

# The strategies the trader configures and runs live (a `StrategyConfig` each, the strategy page).
REGISTRY: dict[str, type[Strategy]] = {
    OpeningBreakout.name: OpeningBreakout,
    ConditionEntry.name: ConditionEntry,
}
# Built-ins for backtests and benches only: no live configuration, so the live engine never runs them.
RESEARCH: dict[str, type[Strategy]] = {
    MaCross.name: MaCross,
}
BUILTINS: dict[str, type[Strategy]] = {**REGISTRY, **RESEARCH}


class UnknownStrategy(KeyError):
    pass


class Engine:
    def __init__(self, strategies: Sequence[Strategy], market: Market | None = None) -> None:
        self.market = market if market is not None else Market()
        self.strategies: list[Strategy] = []
        self.fired: set[str] = set()
        self.dismissed: set[str] = set()  # fired keys that made no order (`dismiss`)
        self._times: dict[str, dt.datetime] = {}
        for strategy in strategies:
            self._add(strategy)
        self._hooked, self._own = self._split()

    def _add(self, strategy: Strategy) -> None:
        strategy.market = self.market
        self.strategies.append(strategy)

    def _split(self) -> tuple[list[Strategy], list[Strategy]]:
        """(strategies written with the hooks, strategies that override `on_event` themselves)."""
        hooked = [s for s in self.strategies if s.uses_hooks()]
        return hooked, [s for s in self.strategies if not s.uses_hooks()]

    def strategy(self, name: str) -> Strategy | None:
        return next((s for s in self.strategies if s.name == name), None)

    def mark_fired(
        self,
        keys: Iterable[str],
        times: Mapping[str, dt.datetime] | None = None,
        dismissed: Iterable[str] = (),
    ) -> None:
        """Signals already stored (a restart mid-session): never fired again, and the strategies learn
        what they entered (the opening breakout then watches those codes for its exit). `times` (key →
        the signal's `at`, from the Signal table) lets an exit judge the stored bars after the entry;
        without it, only bars built from live ticks count for the exit. `dismissed`: those of `keys`
        that made no order (`dismiss`): fired, but not entered."""
        keys = list(keys)
        self.fired.update(keys)
        self.dismissed.update(dismissed)
        self._times.update(times or {})
        for strategy in self.strategies:
            strategy.restore(self._entered(keys), self._times)

    def dismiss(self, signal: Signal) -> None:
        """`signal` made no order (refused, gated, failed): its key stays fired (never sent again) and
        its strategy forgets the entry (no exit of a position it never had)."""
        if signal.key:
            self.dismissed.add(signal.key)
        strategy = self.strategy(signal.strategy)
        if strategy is not None:
            strategy.dismiss(signal)

    def _entered(self, keys: Iterable[str]) -> list[str]:
        return [k for k in keys if k not in self.dismissed]

    def warm_up(self, events: Iterable[Event]) -> None:
        """Rebuild state after a restart, emitting nothing: bars and ticks (stored minute bars as
        `BarEvent`s) feed only the market state (bars, VWAP, opening ranges); scans and news feed the
        strategies; condition events are skipped (an entry is never inferred from history). Together
        with `mark_fired` (the stored signals), the engine then neither repeats nor misses an entry;
        a restored entry's VWAP-breakdown exit is judged from the next live bar on."""
        hooked, own = self._split()
        for event in events:
            if isinstance(event, ScanEvent | NewsEvent):
                dispatch(self.market, hooked, event)
                for strategy in own:
                    strategy.on_event(event)
            elif not isinstance(event, ConditionEvent):
                dispatch(self.market, (), event)

    def on_event(self, event: Event) -> list[Signal]:
        hooked, own = self._hooked, self._own
        signals = dispatch(self.market, hooked, event)
        for strategy in own:
            if strategy.settings.enabled:
                signals.extend(strategy.on_event(event))
        if not signals:
            return signals
        out: list[Signal] = []
        enabled = {s.name: s.settings.enabled for s in self.strategies}
        for signal in signals:
            if signal.side == "buy" and not enabled.get(signal.strategy, False):
                continue
            if signal.key:
                if signal.key in self.fired:
                    if signal.key in self.dismissed:  # decided again: still no order
                        self.dismiss(signal)
                    continue
                self.fired.add(signal.key)
            out.append(signal)
        return out

    def reconfigure(self, settings: Mapping[str, StrategySettings]) -> None:
        """Apply `settings` (the complete active set): known strategies take their new version in place
        (validated first: a bad set raises `ParamsInvalid` and changes nothing), new names are built,
        strategies no longer configured are dropped. Market state and fired keys stay."""
        for name in settings:
            if name not in REGISTRY:
                raise UnknownStrategy(name)
        current = {s.name: s for s in self.strategies}
        for name, item in settings.items():  # validate everything before changing anything
            REGISTRY[name].schema.load(item.params)
        kept: list[Strategy] = []
        for name, item in settings.items():
            strategy = current.get(name)
            if strategy is None:
                strategy = REGISTRY[name](item, self.market)
                strategy.restore(self._entered(self.fired), self._times)
            elif strategy.settings != item:
                strategy.configure(item)
            kept.append(strategy)
        self.strategies = kept
        self._hooked, self._own = self._split()


def build_engine(
    settings: Mapping[str, StrategySettings], session_of: SessionOf | None = None
) -> Engine:
    """An engine of the configured strategies (in the mapping's order; any of `BUILTINS`). Unknown names raise
    `UnknownStrategy`; parameters that do not validate raise `params.ParamsInvalid`."""
    market = Market(session_of)
    strategies = []
    for name, item in settings.items():
        cls = BUILTINS.get(name)
        if cls is None:
            raise UnknownStrategy(name)
        strategies.append(cls(item, market))
    return Engine(strategies, market)
