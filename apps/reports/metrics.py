"""Trading metrics over closed trades: one pure module for live learning metrics and backtest results.

No Django here: the inputs are plain frozen dataclasses (`ClosedTrade`, `EquityPoint`), so the backtest
(issue 16) feeds its own trades and mark-to-market equity curve through the same functions as the live
trade log.

Definitions (all money integer KRW, all rates Decimal):

- `total_trades`, `wins` (P&L > 0), `losses` (P&L < 0); a break-even trade is neither.
- `win_rate`: wins / total trades, a fraction in [0, 1] (0 without trades); `win_rate_pct` is the same ×100.
- `avg_return_pct`: the mean of the trades' return rates (percent, as the trade log stores them).
- `profit_factor`: gross profit / gross loss; `None` when there is no losing trade (no finite value).
- `exposure`: the session time covered by at least one open trade (the union of [entry, exit] intervals
  inside the given session windows) divided by the session time (windows given, else first entry → last
  exit); a fraction in [0, 1].
- `max_drawdown_krw` / `max_drawdown_pct`: the largest fall of the equity series from its running peak, in
  KRW and in percent of that peak (0 when the peak is not positive). Without an explicit series the
  closed-trade equity is used: `start_equity` plus the cumulative P&L in exit order.
- `total_pnl`: the sum of the trades' P&L.

Patterns: a pattern is strategy tag × news-score bucket × volume-rank bucket × entry-time bucket
(`PatternKey`, written `tag|news:70+|rank:1-3|time:09:00-09:30`):

| bucket | values |
|---|---|
| news score (0–100) | `none` (no score), `0-39`, `40-69`, `70+` |
| volume rank | `none`, `1-3`, `4-10`, `11-30`, `31+` |
| entry time (KST) | `none`, `09:00-09:30` (and anything earlier), `09:30-11:00`, `11:00-14:00`, `14:00+` |

A pattern can be named best (highest average return, then higher total P&L) or worst (lowest average
return, then lower total P&L) only with at least `min_pattern_trades` trades; with one eligible pattern it
is the best and there is no worst.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from krx import KST

RATE_Q = Decimal("0.0001")
ZERO = Decimal(0)
HUNDRED = Decimal(100)


def q(value: Decimal) -> Decimal:
    """The one rounding of rates in this module: 4 decimal places, half up."""
    return value.quantize(RATE_Q, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ClosedTrade:
    exit_time: dt.datetime  # aware
    pnl: int  # KRW, after commission and tax
    return_pct: Decimal  # percent of the entry amount
    entry_time: dt.datetime | None = None  # aware
    strategy_tag: str = ""
    news_score: int | None = None
    volume_rank: int | None = None


@dataclass(frozen=True)
class EquityPoint:
    time: dt.datetime
    equity: int  # KRW


@dataclass(frozen=True)
class PatternKey:
    strategy_tag: str
    news: str
    rank: str
    time: str

    def label(self, max_length: int = 100) -> str:
        tail = f"|news:{self.news}|rank:{self.rank}|time:{self.time}"
        tag = (self.strategy_tag or "-")[: max(1, max_length - len(tail))]
        return f"{tag}{tail}"


@dataclass(frozen=True)
class PatternStats:
    key: PatternKey
    trades: int
    wins: int
    win_rate: Decimal
    avg_return_pct: Decimal
    total_pnl: int

    @property
    def label(self) -> str:
        return self.key.label()


@dataclass(frozen=True)
class Metrics:
    total_trades: int
    wins: int
    losses: int
    win_rate: Decimal  # fraction in [0, 1]
    avg_return_pct: Decimal
    profit_factor: Decimal | None
    exposure: Decimal  # fraction in [0, 1]
    max_drawdown_krw: int
    max_drawdown_pct: Decimal
    total_pnl: int
    gross_profit: int
    gross_loss: int  # positive
    patterns: tuple[PatternStats, ...] = field(default=())
    best_pattern: PatternStats | None = None
    worst_pattern: PatternStats | None = None
    min_pattern_trades: int = 0

    @property
    def win_rate_pct(self) -> Decimal:
        return q(self.win_rate * HUNDRED)


# --- buckets ---------------------------------------------------------------------------------------------


def news_bucket(score: int | None) -> str:
    if score is None:
        return "none"
    if score < 40:
        return "0-39"
    if score < 70:
        return "40-69"
    return "70+"


def rank_bucket(rank: int | None) -> str:
    if rank is None:
        return "none"
    if rank <= 3:
        return "1-3"
    if rank <= 10:
        return "4-10"
    if rank <= 30:
        return "11-30"
    return "31+"


_TIME_BUCKETS = (
    (dt.time(9, 30), "09:00-09:30"),
    (dt.time(11, 0), "09:30-11:00"),
    (dt.time(14, 0), "11:00-14:00"),
)


def time_bucket(entry_time: dt.datetime | None) -> str:
    if entry_time is None:
        return "none"
    local = entry_time.astimezone(KST).time()
    for end, label in _TIME_BUCKETS:
        if local < end:
            return label
    return "14:00+"


def pattern_of(trade: ClosedTrade) -> PatternKey:
    return PatternKey(
        strategy_tag=trade.strategy_tag,
        news=news_bucket(trade.news_score),
        rank=rank_bucket(trade.volume_rank),
        time=time_bucket(trade.entry_time),
    )


# --- the pieces ------------------------------------------------------------------------------------------


def _mean(values: Sequence[Decimal]) -> Decimal:
    return q(sum(values, ZERO) / len(values)) if values else ZERO


def _ratio(part: int, whole: int) -> Decimal:
    return q(Decimal(part) / Decimal(whole)) if whole else ZERO


def closed_trade_equity(trades: Iterable[ClosedTrade], start_equity: int) -> list[EquityPoint]:
    """`start_equity` plus the cumulative P&L, one point per trade in exit order."""
    ordered = sorted(trades, key=lambda t: t.exit_time)
    points: list[EquityPoint] = []
    equity = start_equity
    for trade in ordered:
        equity += trade.pnl
        points.append(EquityPoint(trade.exit_time, equity))
    return points


def max_drawdown(equity: Sequence[int], start: int | None = None) -> tuple[int, Decimal]:
    """(KRW, percent of the running peak) of the largest peak-to-trough fall; `start` is a first peak."""
    peak = start if start is not None else (equity[0] if equity else 0)
    worst_krw, worst_pct = 0, ZERO
    for value in equity:
        if value > peak:
            peak = value
        fall = peak - value
        if fall > worst_krw:
            worst_krw = fall
        if peak > 0 and fall > 0:
            pct = Decimal(fall) * HUNDRED / Decimal(peak)
            if pct > worst_pct:
                worst_pct = pct
    return worst_krw, q(worst_pct)


def exposure(
    trades: Iterable[ClosedTrade], sessions: Sequence[tuple[dt.datetime, dt.datetime]] | None = None
) -> Decimal:
    """Share of the session time (the given windows, e.g. each trading day's session; else first entry →
    last exit) during which at least one trade was open. A trade without an entry time counts from its
    exit, i.e. not at all."""
    spans = sorted(
        (t.entry_time or t.exit_time, t.exit_time)
        for t in trades
        if (t.entry_time or t.exit_time) <= t.exit_time
    )
    if not spans:
        return ZERO
    windows = list(sessions) if sessions else [(spans[0][0], max(s[1] for s in spans))]
    total = sum((end - start).total_seconds() for start, end in windows)
    if total <= 0:
        return ZERO
    covered = sum(_covered(spans, start, end) for start, end in windows)
    return min(Decimal(1), q(Decimal(str(covered)) / Decimal(str(total))))


def _covered(
    spans: Sequence[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime
) -> float:
    """Seconds of [start, end] inside the union of `spans` (sorted by start)."""
    covered = 0.0
    cur_start: dt.datetime | None = None
    cur_end: dt.datetime | None = None
    for a, b in spans:
        a, b = max(a, start), min(b, end)
        if b <= a:
            continue
        if cur_start is None or cur_end is None or a > cur_end:
            if cur_start is not None and cur_end is not None:
                covered += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = a, b
        elif b > cur_end:
            cur_end = b
    if cur_start is not None and cur_end is not None:
        covered += (cur_end - cur_start).total_seconds()
    return covered


def pattern_breakdown(trades: Iterable[ClosedTrade]) -> list[PatternStats]:
    groups: dict[PatternKey, list[ClosedTrade]] = defaultdict(list)
    for trade in trades:
        groups[pattern_of(trade)].append(trade)
    stats = []
    for key, members in groups.items():
        wins = sum(1 for t in members if t.pnl > 0)
        stats.append(
            PatternStats(
                key=key,
                trades=len(members),
                wins=wins,
                win_rate=_ratio(wins, len(members)),
                avg_return_pct=_mean([t.return_pct for t in members]),
                total_pnl=sum(t.pnl for t in members),
            )
        )
    stats.sort(key=lambda s: (-s.trades, s.label))
    return stats


def best_and_worst(
    patterns: Iterable[PatternStats], min_trades: int
) -> tuple[PatternStats | None, PatternStats | None]:
    eligible = [p for p in patterns if p.trades >= max(1, min_trades)]
    if not eligible:
        return None, None
    ranked = sorted(eligible, key=lambda p: (p.avg_return_pct, p.total_pnl, p.label))
    best = ranked[-1]
    worst = ranked[0] if len(ranked) > 1 else None
    return best, worst


def compute_metrics(
    trades: Sequence[ClosedTrade],
    *,
    start_equity: int = 0,
    equity: Sequence[EquityPoint] | None = None,
    sessions: Sequence[tuple[dt.datetime, dt.datetime]] | None = None,
    min_pattern_trades: int = 5,
) -> Metrics:
    """Every metric of the module over `trades` (see the module docstring for the definitions)."""
    pnls = [t.pnl for t in trades]
    wins = sum(1 for p in pnls if p > 0)
    losses = sum(1 for p in pnls if p < 0)
    gross_profit = sum(p for p in pnls if p > 0)
    gross_loss = -sum(p for p in pnls if p < 0)
    if equity is None:
        curve = [p.equity for p in closed_trade_equity(trades, start_equity)]
        dd_krw, dd_pct = max_drawdown(curve, start=start_equity)
    else:
        dd_krw, dd_pct = max_drawdown([p.equity for p in equity])
    patterns = pattern_breakdown(trades)
    best, worst = best_and_worst(patterns, min_pattern_trades)
    return Metrics(
        total_trades=len(trades),
        wins=wins,
        losses=losses,
        win_rate=_ratio(wins, len(trades)),
        avg_return_pct=_mean([t.return_pct for t in trades]),
        profit_factor=q(Decimal(gross_profit) / Decimal(gross_loss)) if gross_loss else None,
        exposure=exposure(trades, sessions),
        max_drawdown_krw=dd_krw,
        max_drawdown_pct=dd_pct,
        total_pnl=sum(pnls),
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        patterns=tuple(patterns),
        best_pattern=best,
        worst_pattern=worst,
        min_pattern_trades=min_pattern_trades,
    )


# --- daily series (the reports page, the weekly report) ---------------------------------------------------


@dataclass(frozen=True)
class DayPoint:
    day: dt.date
    trades: int
    pnl: int
    equity: int  # end of day
    return_pct: Decimal  # the day's P&L in percent of the equity at its start
    cumulative_pct: Decimal  # end-of-day equity against the start equity
    drawdown_pct: Decimal  # end-of-day equity under the running peak (≥ 0)


def daily_series(
    trades: Iterable[ClosedTrade], days: Sequence[dt.date], start_equity: int
) -> list[DayPoint]:
    """One point per given day (KST exit date), trades of other days ignored."""
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for t in trades:
        by_day[t.exit_time.astimezone(KST).date()].append(t.pnl)
    points: list[DayPoint] = []
    equity = peak = start_equity
    for day in days:
        pnls = by_day.get(day, [])
        opening = equity
        equity += sum(pnls)
        peak = max(peak, equity)
        points.append(
            DayPoint(
                day=day,
                trades=len(pnls),
                pnl=sum(pnls),
                equity=equity,
                return_pct=q(Decimal(sum(pnls)) * HUNDRED / opening) if opening > 0 else ZERO,
                cumulative_pct=(
                    q(Decimal(equity - start_equity) * HUNDRED / start_equity)
                    if start_equity > 0
                    else ZERO
                ),
                drawdown_pct=q(Decimal(peak - equity) * HUNDRED / peak) if peak > 0 else ZERO,
            )
        )
    return points


# --- a Sharpe-like ratio (tuning objectives) ---------------------------------------------------------------


def period_returns(equity: Sequence[int]) -> list[Decimal]:
    """The returns between consecutive points of an equity series (fractions; a point after a
    non-positive one is skipped)."""
    return [Decimal(b - a) / Decimal(a) for a, b in itertools.pairwise(equity) if a > 0]


def sharpe_ratio(returns: Sequence[Decimal], periods_per_year: int = 252) -> Decimal | None:
    """Mean over the sample standard deviation of per-period returns, annualised by √periods (no
    risk-free rate: a Sharpe-like ranking figure). `None` with fewer than two returns or no
    dispersion (no finite value)."""
    n = len(returns)
    if n < 2:
        return None
    mean = sum(returns, ZERO) / n
    variance = sum(((r - mean) ** 2 for r in returns), ZERO) / (n - 1)
    if variance <= 0:
        return None
    return q(mean / variance.sqrt() * Decimal(periods_per_year).sqrt())
