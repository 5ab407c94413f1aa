"""The typed events the strategy engine consumes, and the signals it returns (framework-free).

The realtime hub (live and paper) and the backtester feed the same events; nothing here knows where
they come from. Times are aware datetimes (exchange time); money is integer KRW; rates are Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class TickEvent:
    code: str
    at: datetime
    price: int
    quantity: int
    cumulative_volume: int = 0
    cumulative_value_krw: int = 0
    change_pct: Decimal | None = None  # vs the previous close (FID 12), when the feed says


@dataclass(frozen=True, slots=True)
class BarEvent:
    """A complete 1-minute bar; `end` is the end of its minute.

    `end_ms`: `end` in epoch milliseconds (`market.epoch_ms(end)`) when whoever builds the event has it
    (the stored bars of a backtest's day are converted as they load, as other engines keep a bar's
    time as an integer); 0: the engine converts `end` itself. Not compared: the same bar either way.
    A copy with another `end` (`dataclasses.replace`) must pass `end_ms` again (or 0)."""

    code: str
    end: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int | None = None
    end_ms: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One row of an opening-scanner run (merged rankings)."""

    code: str
    name: str
    rank: int  # by trading value, 1 = largest
    value_krw: int | None
    volume_ratio: Decimal | None  # today's volume / the previous day's, as a rate (ka10023)
    change_pct: Decimal | None
    price: int | None
    news_score: int | None


@dataclass(frozen=True, slots=True)
class ScanEvent:
    at: datetime
    candidates: tuple[Candidate, ...]
    snapshot_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewsEvent:
    code: str
    at: datetime
    score: int
    headline: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class ConditionEvent:
    code: str
    at: datetime
    condition_seq: str
    condition_name: str
    entered: bool
    price: int | None = None
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """The exchange's time moved on (no tick needed): bars whose minute is over close."""

    at: datetime


Event = TickEvent | BarEvent | ScanEvent | NewsEvent | ConditionEvent | ClockEvent


@dataclass(frozen=True, slots=True)
class Signal:
    """What a strategy asks for. `features` are the numbers behind the decision (rank, news score,
    VWAP distance, opening high, condition, ...), stored and pushed with the signal."""

    strategy: str
    code: str
    side: str  # "buy" / "sell"
    at: datetime
    reason: str
    price: int | None = None  # the reference price at the signal
    features: dict[str, Any] = field(default_factory=dict)
    key: str = (
        ""  # unique per (strategy, code, day, kind): a signal fired once is never fired again
    )
