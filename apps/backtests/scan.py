"""The opening scanner's ranking rebuilt from minute bars, for historical days (pure: no Django, no I/O).

Live, the scanner asks the broker for the trading-value ranking (ka10032) at every minute of its window
(`apps.strategy.scanner_schedule`, default 09:00–10:00 KST, moved with a late open). History has no
rankings, so a backtest rebuilds them: at slot minute `s`, every code of the day's universe is ranked by
its cumulative traded value over the bars that ended at or before `s` (a bar's `value`, else its typical
price × volume, as `apps.strategy.engine.market` counts it), largest first; codes that have not traded
are left out. Each candidate carries:

- `value_krw`: that cumulative value; `price`: the last close; `change_pct`: vs the day's base price
  (the previous close); `volume_ratio`: cumulative volume ÷ the previous day's volume (None without it);
- `news_score`: the latest score of the code's stored news items published that trading day at or before
  `s` (the same "latest of today" the engine's `NewsBook` keeps); no stored item → None, unless the run
  assumes a score for every code (`assume_news_score`, a what-if stated in the results). With None the
  opening-breakout strategy fails closed: no entry, exactly as live when the news service is down.

The risk configuration's exclusions (halted, administrative, ...) are not applied: the instrument flags
are today's, not the day's (a historical flag table does not exist).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from apps.strategy.engine.events import BarEvent, Candidate, NewsEvent, ScanEvent
from apps.strategy.scanner_schedule import ScanWindow, window_on

__all__ = ["ScanBook", "scan_slots"]

_MINUTE = dt.timedelta(minutes=1)
_Q = Decimal("0.01")


def scan_slots(day: dt.date, window: ScanWindow | None) -> list[dt.datetime]:
    """The day's scan slots (aware UTC minutes), as the live schedule has them."""
    if window is None:
        return []
    bounds = window_on(day, window)
    if bounds is None:
        return []
    start, end = bounds
    step = _MINUTE * window.interval_minutes
    out = []
    at = start
    while at < end:
        out.append(at)
        at += step
    return out


class ScanBook:
    """One trading day's running totals per code; `scan(at)` ranks them."""

    def __init__(
        self,
        names: Mapping[str, str],
        bases: Mapping[str, int],
        prev_volume: Mapping[str, int],
        news: Iterable[NewsEvent] = (),
        *,
        rows: int = 30,
        assume_news_score: int | None = None,
    ) -> None:
        self.names = names
        self.bases = bases
        self.prev_volume = prev_volume
        self.rows = rows
        self.assume = assume_news_score
        self.value: dict[str, int] = {}
        self.volume: dict[str, int] = {}
        self.close: dict[str, int] = {}
        self._news = sorted(news, key=lambda n: n.at)
        self._news_at = 0
        self.scores: dict[str, int] = {}

    def on_bar(self, bar: BarEvent) -> None:
        value = bar.value if bar.value else (bar.high + bar.low + bar.close) * bar.volume // 3
        code = bar.code
        self.value[code] = self.value.get(code, 0) + value
        self.volume[code] = self.volume.get(code, 0) + bar.volume
        self.close[code] = bar.close

    def _news_until(self, at: dt.datetime) -> None:
        items = self._news
        while self._news_at < len(items) and items[self._news_at].at <= at:
            item = items[self._news_at]
            self.scores[item.code] = item.score
            self._news_at += 1

    def scan(self, at: dt.datetime) -> ScanEvent | None:
        """The ranking at slot `at` (None when nothing has traded yet)."""
        self._news_until(at)
        ranked = sorted(
            ((v, c) for c, v in self.value.items() if v > 0), key=lambda x: (-x[0], x[1])
        )[: self.rows]
        if not ranked:
            return None
        return ScanEvent(at, tuple(self._candidate(i, c, v) for i, (v, c) in enumerate(ranked, 1)))

    def _candidate(self, rank: int, code: str, value: int) -> Candidate:
        price = self.close.get(code)
        base = self.bases.get(code)
        change = None
        if base and price:
            change = (Decimal(price - base) * 100 / base).quantize(_Q, rounding=ROUND_HALF_UP)
        prev = self.prev_volume.get(code)
        ratio = None
        if prev:
            ratio = (Decimal(self.volume.get(code, 0)) / prev).quantize(_Q, rounding=ROUND_HALF_UP)
        score = self.scores.get(code, self.assume)
        return Candidate(
            code=code,
            name=self.names.get(code, ""),
            rank=rank,
            value_krw=value,
            volume_ratio=ratio,
            change_pct=change,
            price=price,
            news_score=score,
        )
