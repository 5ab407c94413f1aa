"""Market history of the simulator: the universe it trades, the data files behind its prices,
each day's price path, and the daily and minute bars of days before today (recorded when the
simulator traded them, else generated deterministically from the seed).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, Any

from krx import Market, price_limits, tick_round

from .dto import DailyBar, Instrument
from .pricing import (
    N_MINUTES,
    DayPath,
    TradingDays,
    path_from_daily,
    path_from_minutes,
    rng_for,
    synthetic_daily,
)
from .tape import StockDay, path_bars, pct
from .universe import DailyRow, MinuteRow, builtin_universe, load_daily, load_master, load_minutes

if TYPE_CHECKING:
    from .exchange import ExchangeConfig

# 1-minute bars [o, h, l, c, volume, value, cum volume] by minute index from the open
MinuteBars = dict[int, list[int]]


def _round_tick(price: float, market: Market, day: dt.date) -> int:
    return tick_round(max(1, round(price)), market, day, "nearest")


class History:
    """The universe, its price paths and every bar before the current trading day."""

    def __init__(self, config: ExchangeConfig, days: TradingDays) -> None:
        self.seed = int(config.seed)
        self.pricing = config.pricing
        self.base_prices = dict(config.base_prices or {})
        self.days = days
        self.daily_rows: dict[dt.date, dict[str, DailyRow]] = {}
        self.minute_rows: dict[tuple[str, dt.date], list[MinuteRow]] = {}
        self.instruments = self._load_universe(config)
        self.recorded: dict[str, dict[dt.date, DailyBar]] = {}
        self._hist: dict[str, list[DailyBar]] = {}
        self._extremes: dict[tuple[str, dt.date], Any] = {}
        self.minute_archive: dict[tuple[str, dt.date], MinuteBars] = {}
        self.anchor_day: dt.date = dt.date.min
        self.anchor_base: dict[str, int] = {}

    # ================================================================== universe
    def _load_universe(self, config: ExchangeConfig) -> dict[str, Instrument]:
        base = builtin_universe()
        if config.universe:
            base = load_master(config.universe, config.codes)
        if config.pricing == "daily" and config.daily_path:
            self.daily_rows = load_daily(config.daily_path, [i.code for i in base])
        if config.pricing == "replay" and (config.minute_path or config.minute_rows):
            rows = config.minute_rows
            self.minute_rows = dict(rows) if rows is not None else load_minutes(config.minute_path)
            markets = config.markets or {}
            replay_codes = {code for code, _ in self.minute_rows}
            known = {i.code: i for i in base}
            base = []
            for code in sorted(replay_codes):
                first_day = min(d for c, d in self.minute_rows if c == code)
                first = self.minute_rows[(code, first_day)][0]
                inst = known.get(code) or Instrument(
                    code, code, Market.KOSPI, first.open, 100_000_000, 1_000_000
                )
                day_vol = sum(r.volume for r in self.minute_rows[(code, first_day)])
                base.append(
                    Instrument(
                        inst.code, inst.name, markets.get(code, inst.market), first.open,
                        inst.listed_shares,
                        max(day_vol, 1), inst.kospi200,
                    )
                )  # fmt: skip
        if config.codes:
            wanted = set(config.codes)
            base = [i for i in base if i.code in wanted]
        if not base:
            raise ValueError("the universe is empty")
        return {i.code: i for i in base}

    def first_bases(self, day: dt.date) -> dict[str, int]:
        """Base prices of a fresh simulator's first day."""
        bases = {c: i.prev_close for c, i in self.instruments.items()}
        if self.pricing == "daily":
            rows = self.daily_rows.get(day, {})
            bases.update({c: r.prev_close for c, r in rows.items() if c in bases})
        if self.pricing == "replay":
            for code in bases:
                prev = self.replay_daily(code, self.days.previous(day))
                if prev is not None:
                    bases[code] = prev[3]
        bases.update((c, b) for c, b in self.base_prices.items() if c in bases)
        return bases

    def base_for(self, code: str, day: dt.date, carried: int) -> int:
        """A stock's base price on `day`: the daily file's previous close when it has one."""
        if self.pricing == "daily":
            row = self.daily_rows.get(day, {}).get(code)
            if row is not None:
                return row.prev_close
        return carried

    # ================================================================== paths
    def replay_daily(self, code: str, day: dt.date) -> tuple[int, int, int, int, int, int] | None:
        """(open, high, low, close, volume, value) of a replay-file day, if the file has it."""
        rows = self.minute_rows.get((code, day))
        if not rows:
            return None
        volume = sum(r.volume for r in rows)
        value = sum(r.volume * (r.open + r.high + r.low + r.close) // 4 for r in rows)
        return (
            rows[0].open, max(r.high for r in rows), min(r.low for r in rows), rows[-1].close,
            volume, value,
        )  # fmt: skip

    def make_path(self, inst: Instrument, day: dt.date, base: int) -> DayPath:
        mode = self.pricing
        if mode == "replay" and (inst.code, day) in self.minute_rows:
            return path_from_minutes(
                inst.code, inst.market, day, base, self.minute_rows[(inst.code, day)]
            )
        row = self.daily_rows.get(day, {}).get(inst.code) if mode == "daily" else None
        if row is not None and row.volume <= 0:
            # A halted stock (zero-volume row): no trades all day.
            flat = (base, base, base, base, 0)
            return DayPath(
                inst.code, day, base, price_limits(base, inst.market, day), base, 0,
                [flat] * N_MINUTES, base, 0,
            )  # fmt: skip
        if row is not None:
            ohlcv = (row.open, row.high, row.low, row.close, row.volume)
        else:
            ohlcv = synthetic_daily(inst, base, day, self.seed)
        return path_from_daily(inst.code, inst.market, day, base, ohlcv, self.seed)

    # ================================================================== daily bars
    def bar_from_json(self, code: str, r: list[Any]) -> DailyBar:
        inst = self.instruments[code]
        day = dt.date.fromisoformat(r[0])
        return DailyBar(
            code, day, r[1], r[2], r[3], r[4], r[5], r[6], r[7], pct(r[5], inst.listed_shares)
        )

    def history(self, code: str, depth: int) -> list[DailyBar]:
        """Generated daily bars before the anchor day, newest first, at least `depth` long."""
        hist = self._hist.setdefault(code, [])
        inst = self.instruments[code]
        day = hist[-1].date if hist else self.anchor_day
        close = hist[-1].prev_close if hist else self.anchor_base[code]
        while len(hist) < depth:
            day = self.days.previous(day)
            row = self.daily_rows.get(day, {}).get(code)
            replay = self.replay_daily(code, day)
            if replay is not None and replay[3] == close:
                o, h, lo, c, v, value = replay
                prev_day = self.replay_daily(code, self.days.previous(day))
                prev = prev_day[3] if prev_day is not None else o
            elif row is not None and row.close == close:
                o, h, lo, c, v, value, prev = (
                    row.open, row.high, row.low, row.close, row.volume, row.value, row.prev_close
                )  # fmt: skip
            else:
                rng = rng_for(self.seed, code, day.isoformat(), "back")
                r = rng.gauss(0.0, 0.018 if inst.market is Market.KOSPI else 0.028)
                prev = _round_tick(close / (1 + r), inst.market, day)
                o, h, lo, c, v = synthetic_daily(inst, prev, day, self.seed, close=close)
                value = v * (o + h + lo + c) // 4
            hist.append(
                DailyBar(code, day, o, h, lo, c, v, value, prev, pct(v, inst.listed_shares))
            )
            close = prev
        return hist

    def bar_on(self, code: str, day: dt.date) -> DailyBar | None:
        """The daily bar of a past `day` (recorded or generated), None if it did not trade."""
        bar = self.recorded.get(code, {}).get(day)
        if bar is not None:
            return bar
        hist = self.history(code, 1)
        i = 0
        while hist[i].date > day:
            i += 1
            hist = self.history(code, i + 1)
        return hist[i] if hist[i].date == day else None

    def daily_before(self, code: str, day: dt.date) -> DailyBar:
        """The daily bar of the trading day before `day` (recorded or generated)."""
        prev = self.days.previous(day)
        rec = self.recorded.get(code, {}).get(prev)
        if rec is not None:
            return rec
        hist = self.history(code, 1)
        for i in itertools.count():
            hist = self.history(code, i + 1)
            if hist[i].date <= prev:
                return hist[i]
        raise AssertionError("unreachable")

    def record_day(self, stocks: dict[str, StockDay], day: dt.date) -> None:
        """Keep a finished day's daily bars and (for 40 days) its minute bars."""
        for code, st in stocks.items():
            if st.volume <= 0:
                continue
            self.minute_archive[(code, day)] = st.bars
            while len(self.minute_archive) > 40 * len(stocks):
                del self.minute_archive[next(iter(self.minute_archive))]
            self.recorded.setdefault(code, {})[day] = DailyBar(
                code, day, st.open, st.high, st.low, st.price, st.volume, st.value, st.base,
                pct(st.volume, st.inst.listed_shares),
            )  # fmt: skip

    def past_extremes(
        self, code: str, today: dt.date
    ) -> tuple[tuple[int, dt.date], tuple[int, dt.date], int, int]:
        """(250-day high, 250-day low, year high, year low) of the days before `today`; cached
        for the day because history does not change intraday."""
        key = (code, today)
        cached = self._extremes.get(key)
        if cached is not None:
            return cached
        hist = self.history(code, 250)[:250]
        rec = sorted(self.recorded.get(code, {}).values(), key=lambda b: b.date, reverse=True)
        window = [b for b in (rec + hist) if b.date < today][:249]
        hi = max(((b.high, b.date) for b in window), default=(0, today))
        lo = min(((b.low, -b.date.toordinal()) for b in window), default=(10**12, 0))
        lo_day = dt.date.fromordinal(-lo[1]) if window else today
        year = [b for b in window if b.date.year == today.year]
        year_hi = max((b.high for b in year), default=0)
        year_lo = min((b.low for b in year), default=10**12)
        result = (hi, (lo[0], lo_day), year_hi, year_lo)
        self._extremes[key] = result
        return result

    def minute_bars_of(self, code: str, day: dt.date) -> tuple[list[tuple[int, list[int]]], int]:
        """(sorted minute bars, base price) of a past trading day; no bars if it did not trade."""
        bar = self.bar_on(code, day)
        if bar is None:
            return [], 0
        archived = self.minute_archive.get((code, day))
        if archived is not None:
            return sorted(archived.items()), bar.prev_close
        inst = self.instruments[code]
        rows = self.minute_rows.get((code, day))
        if rows:
            # A day of the replay file the simulator did not trade: its real bars, exactly.
            path = path_from_minutes(code, inst.market, day, bar.prev_close, rows)
            return sorted(path_bars(path).items()), bar.prev_close
        path = path_from_daily(
            code, inst.market, day, bar.prev_close,
            (bar.open, bar.high, bar.low, bar.close, bar.volume), self.seed, "hist",
        )  # fmt: skip
        return sorted(path_bars(path).items()), bar.prev_close
