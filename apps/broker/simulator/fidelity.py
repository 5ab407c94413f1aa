"""Replay fidelity: how a replayed day's served bars and streamed ticks compare with the real
minute bars behind them (used by `bench/replay_fidelity.py` and the replay tests).

Bars are keyed by their END minute in KST as `HHMM`, like the KRX minute files: `0901` … `1520`,
and `1530` for the closing auction (ka10080 stamps that bar 15:31, its end as a one-minute bar
from 15:30; the project's aggregator labels it 15:30 — both map to `1530` here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from krx import KST, regular_session

from .dto import Bar, Tick
from .universe import MinuteRow

OHLCV = tuple[int, int, int, int, int]


def label(end: dt.datetime) -> str:
    """`HHMM` of a bar's end; anything ending after the closing auction starts is `1530`."""
    end = end.astimezone(KST)
    session = regular_session(end.date())
    if end > session.closing_auction:
        return "1530"
    return end.strftime("%H%M")


def real_bars(rows: Iterable[MinuteRow]) -> dict[str, OHLCV]:
    """The real bars of a file day that traded (rows with volume)."""
    return {r.hhmm: (r.open, r.high, r.low, r.close, r.volume) for r in rows if r.volume > 0}


def served_bars(bars: Iterable[Bar], day: dt.date) -> dict[str, OHLCV]:
    """ka10080-style one-minute bars (start time + minutes) of `day`, by end label."""
    return {
        label(b.time + dt.timedelta(minutes=b.minutes)): (b.open, b.high, b.low, b.close, b.volume)
        for b in bars
        if b.time.astimezone(KST).date() == day
    }


class BarAggregator(Protocol):
    """What `tick_bars` needs of a tick-to-bar aggregator (apps/market/aggregator.py's
    MinuteAggregator; the simulator imports no app, so the caller hands it in)."""

    def on_tick(self, ts_ms: int, price: int, qty: int) -> Any: ...

    def flush(self) -> Any: ...


def tick_bars(
    ticks: Iterable[Tick],
    code: str,
    day: dt.date,
    new_aggregator: Callable[[str, dt.date], BarAggregator],
) -> dict[str, OHLCV]:
    """The ticks of `code` on `day` aggregated by `new_aggregator(code, day)` (bars with `end`,
    open, high, low, close and volume)."""
    agg = new_aggregator(code, day)
    out: dict[str, OHLCV] = {}

    def keep(bar: Any) -> None:
        if bar is not None:
            out[label(bar.end)] = (bar.open, bar.high, bar.low, bar.close, bar.volume)

    for t in ticks:
        if t.code == code and t.time.astimezone(KST).date() == day:
            keep(agg.on_tick(int(t.time.timestamp() * 1000), t.price, t.volume))
    keep(agg.flush())
    return out


@dataclass
class Comparison:
    """Real bars against those a replay produced: `differ` lists (label, real, got)."""

    compared: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    differ: list[tuple[str, OHLCV, OHLCV]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.extra or self.differ)

    @property
    def bad(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.differ)


def compare(real: Mapping[str, OHLCV], got: Mapping[str, OHLCV], since: str = "") -> Comparison:
    """Compare the bars ending after `since` (`HHMM`, exclusive; "" = all of them)."""
    out = Comparison()
    for key in sorted(set(real) | set(got)):
        if key <= since:
            continue
        if key not in got:
            out.missing.append(key)
        elif key not in real:
            out.extra.append(key)
        else:
            out.compared += 1
            if real[key] != got[key]:
                out.differ.append((key, real[key], got[key]))
    return out
