"""What every strategy is: a pure object fed typed events that returns signals (no Django, no I/O).

A strategy declares its `name`, `label` and parameter `schema` (`params.Schema`), and overrides the hooks
it needs:

- `on_tick(state, event)` — a trade of `state.code` (the market state already counts it);
- `on_bar(state, bar, from_ticks)` — a 1-minute bar of `state.code` closed (`from_ticks`: built from
  live ticks, or a `BarEvent` of the minute the ticks were building; False: a bar fed whole as
  history — a backtest or a warm-up on minute bars);
- `on_scan`, `on_news`, `on_condition` — scanner runs, news scores, condition entries/exits.

Hooks return a sequence of `Signal`s (usually `NO_SIGNALS`). (Or it overrides `on_event(event)` alone — the first
contract —, and the engine hands it every event while it is on.) The market state (`self.market`: bars,
VWAP, opening range, last price per code) is shared by every strategy of an `Engine`, which feeds it
before it calls the hooks; a strategy used on its own gets a market of its own and `on_event` feeds it.
Strategies must be deterministic: the same events give the same signals (live, paper and backtest run
the same code). `restore(keys, times)` tells a strategy the signal keys already fired today (a restart).
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from krx import KST

from .events import (
    BarEvent,
    ClockEvent,
    ConditionEvent,
    Event,
    NewsEvent,
    ScanEvent,
    Signal,
    TickEvent,
)
from .market import CodeState, Market, MinuteBar, epoch_ms
from .params import Schema

NO_SIGNALS: tuple[Signal, ...] = ()


@dataclass(frozen=True, slots=True)
class StrategySettings:
    """One strategy's active configuration (a version of the `StrategyConfig` table)."""

    name: str
    version: int
    enabled: bool
    budget_krw: int  # the most this strategy may hold at once (entries are sized within it)
    params: Mapping[str, Any] = field(default_factory=dict)


def signal_key(strategy: str, code: str, day: dt.date, kind: str) -> str:
    """The once-only key of a signal: one per (strategy, code, trading day, kind)."""
    return f"{strategy}:{code}:{day.isoformat()}:{kind}"


def parse_key(key: str) -> tuple[str, str, dt.date, str] | None:
    parts = key.split(":")
    if len(parts) != 4:
        return None
    try:
        day = dt.date.fromisoformat(parts[2])
    except ValueError:
        return None
    return parts[0], parts[1], day, parts[3]


def kst_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(KST).date()


class Strategy(abc.ABC):
    """A rule. See the module docstring for the hooks."""

    name: ClassVar[str]
    label: ClassVar[str] = ""
    label_en: ClassVar[str] = ""
    # None: the parameters are taken as given, unvalidated (a strategy written to the first contract:
    # only `on_event`, reading `settings.params` itself).
    schema: ClassVar[Schema | None] = None

    def __init__(self, settings: StrategySettings, market: Market | None = None) -> None:
        self.market = market if market is not None else Market()
        self.params: dict[str, Any] = {}
        self.configure(settings)

    # ------------------------------------------------------------------ configuration
    def configure(self, settings: StrategySettings) -> None:
        """Apply a (new) configuration; the strategy's state (entries, scans, news) is kept.
        Raises `params.ParamsInvalid` for parameters that do not validate (nothing changes then)."""
        params = (
            self.schema.load(settings.params) if self.schema is not None else dict(settings.params)
        )
        self._settings = settings
        self.params = params
        self.apply_params(params)

    @property
    def settings(self) -> StrategySettings:
        return self._settings

    @settings.setter
    def settings(self, value: StrategySettings) -> None:
        # Assigning new settings applies them (typed parameters included), like `configure`.
        self.configure(value)

    def apply_params(self, params: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Copy the typed parameters to attributes (read per tick)."""

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def restore(  # noqa: B027 - optional hook
        self, keys: Iterable[str], times: Mapping[str, dt.datetime]
    ) -> None:
        """Signal keys fired before (a restart mid-session), with their times when known."""

    def dismiss(self, signal: Signal) -> None:  # noqa: B027 - optional hook
        """`signal` (one of this strategy's) made no order: refused by sizing or the risk engine,
        gated, or failed. A strategy that tracks what it entered forgets it (no exit follows)."""

    # ------------------------------------------------------------------ hooks
    def on_tick(self, state: CodeState, event: TickEvent) -> Sequence[Signal]:
        return NO_SIGNALS

    def on_bar(self, state: CodeState, bar: MinuteBar, from_ticks: bool) -> Sequence[Signal]:
        return NO_SIGNALS

    def on_scan(self, event: ScanEvent) -> Sequence[Signal]:
        return NO_SIGNALS

    def on_news(self, event: NewsEvent) -> Sequence[Signal]:
        return NO_SIGNALS

    def on_condition(self, event: ConditionEvent) -> Sequence[Signal]:
        return NO_SIGNALS

    # ------------------------------------------------------------------ standalone use
    def on_event(self, event: Event) -> list[Signal]:
        """Feed one event to this strategy alone (its own market state). An `Engine` does not call
        this for a strategy written with the hooks: it feeds the shared market once and calls the hooks.
        A strategy may instead override `on_event` itself (the first contract): the engine then calls
        it with every event while the strategy is on, and the market state is there to read."""
        return dispatch(self.market, [self], event)

    @classmethod
    def uses_hooks(cls) -> bool:
        return cls.on_event is Strategy.on_event


def dispatch(market: Market, strategies: Sequence[Strategy], event: Event) -> list[Signal]:
    """Feed `event` to `market`, then to the strategies' hooks; the signals in order."""
    out: list[Signal] = []
    kind = type(event)
    if kind is TickEvent:
        tick: TickEvent = event  # type: ignore[assignment]
        ts = int(tick.at.timestamp() * 1000)
        state = market.state_at(tick.code, ts)
        if state is None:
            return out
        closed = state.on_tick(ts, tick.price, tick.quantity)
        if tick.change_pct is not None:
            state.change_pct = tick.change_pct
        if closed is not None:
            for strategy in strategies:
                out.extend(strategy.on_bar(state, closed, True))
        if ts < state.open_ms or ts >= state.stop_ms:
            return out
        for strategy in strategies:
            signals = strategy.on_tick(state, tick)
            if signals:
                out.extend(signals)
    elif kind is BarEvent:
        bar_event: BarEvent = event  # type: ignore[assignment]
        end = bar_event.end_ms
        if not end:  # not converted by its producer: `epoch_ms`, inlined
            moment = bar_event.end
            if moment.tzinfo is None:
                raise ValueError("naive datetime")
            end = int(moment.timestamp() * 1000)
        state = market.states.get(bar_event.code)
        if state is None or not state.day_start_ms < end <= state.day_end_ms:  # else a new day
            state = market.state_at(bar_event.code, end - 1)
            if state is None:
                return out
        # A bar of the minute ticks are building is the live feed's own bar (the hub closes bars
        # and feeds both): it counts as built from ticks. Otherwise it is history (warm-up, backtest).
        live = state._bar_end == end and end != 0  # `state.building(end)`, inlined
        closed = state.on_bar(
            end,
            bar_event.open,
            bar_event.high,
            bar_event.low,
            bar_event.close,
            bar_event.volume,
            bar_event.value,
        )
        if closed is not None:
            for strategy in strategies:
                out.extend(strategy.on_bar(state, closed, live))
    elif kind is ClockEvent:
        for state, closed in market.on_clock(epoch_ms(event.at)):
            for strategy in strategies:
                out.extend(strategy.on_bar(state, closed, True))
    elif kind is ScanEvent:
        for strategy in strategies:
            out.extend(strategy.on_scan(event))  # type: ignore[arg-type]
    elif kind is NewsEvent:
        for strategy in strategies:
            out.extend(strategy.on_news(event))  # type: ignore[arg-type]
    elif kind is ConditionEvent:
        for strategy in strategies:
            out.extend(strategy.on_condition(event))  # type: ignore[arg-type]
    else:
        raise TypeError(f"not an engine event: {kind.__name__}")
    return out
