"""Market reads of the simulator: quotes, the synthesised 10-level book, minute and daily bars,
per-stock statistics and rankings. Read-only over the engine's tape and history, except that
the book remembers its last levels (for the change columns of ka10004)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING

from krx import KST, Market, SessionPhase, change_sign

from .dto import Bar, BookLevel, DailyBar, Instrument, OrderBook, Quote, Side, StockStats
from .matching import synth_levels
from .pricing import rng_for
from .tape import StockDay, pct

if TYPE_CHECKING:
    from .engine import Engine


class MarketReads:
    def __init__(self, engine: Engine) -> None:
        self.eng = engine

    def book_levels(self, st: StockDay, side: Side) -> list[tuple[int, int]]:
        """The synthesised levels a `side` taker meets now (fixed within a minute)."""
        eng = self.eng
        minute = eng.minute_index(eng.now)
        rng = rng_for(eng.seed, st.inst.code, eng.day.isoformat(), minute, side.value, "book")
        touch = st.best_ask if side is Side.BUY else st.best_bid
        depth = max(1, st.avg_minute_volume // 3)
        return synth_levels(touch, side, st.limits, depth, rng, st.inst.market, eng.day)

    def instruments(self, market: Market | None) -> list[Instrument]:
        out = []
        for code, inst in sorted(self.eng.history.instruments.items()):
            if market is None or inst.market is market:
                st = self.eng.stocks.get(code)
                base = st.base if st else inst.prev_close
                out.append(replace(inst, prev_close=base))
        return out

    def instrument(self, code: str) -> Instrument:
        st = self.eng.stock(code)
        return replace(st.inst, prev_close=st.base)

    def quote(self, code: str) -> Quote:
        eng = self.eng
        st = eng.stock(code)
        day, phase = eng.day, eng.phase
        (hi_p, hi_d), (lo_p, lo_d), year_hi, year_lo = eng.history.past_extremes(st.inst.code, day)
        if st.open:
            if st.high >= hi_p:
                hi_p, hi_d = st.high, day
            if st.low <= lo_p:
                lo_p, lo_d = st.low, day
            year_hi, year_lo = max(year_hi, st.high), min(year_lo, st.low)
        price = st.last
        if not hi_p:
            hi_p, hi_d = price, day
        if lo_p >= 10**12:
            lo_p, lo_d = price, day
        year_hi = year_hi or price
        year_lo = price if year_lo >= 10**12 else year_lo
        auction_now = phase in (SessionPhase.OPENING_AUCTION, SessionPhase.CLOSING_AUCTION)
        exp_price = 0
        if phase is SessionPhase.OPENING_AUCTION:
            exp_price = st.path.open_price
        elif phase is SessionPhase.CLOSING_AUCTION:
            exp_price = st.path.close_price
        elif st.vi_until is not None:
            exp_price = st.vi_price
        exp_qty = 0
        if auction_now:
            opening = phase is SessionPhase.OPENING_AUCTION
            exp_qty = st.path.open_volume if opening else st.path.close_volume
        return Quote(
            code=st.inst.code, name=st.inst.name, market=st.inst.market, time=eng.now,
            phase=phase, base_price=st.base, price=price, change=price - st.base,
            change_rate_pct=pct(price - st.base, st.base),
            sign=change_sign(price, st.base, st.limits), open=st.open, high=st.high, low=st.low,
            upper_limit=st.limits[1], lower_limit=st.limits[0], volume=st.volume, value=st.value,
            best_ask=st.best_ask, best_bid=st.best_bid, prev_volume=st.prev_volume,
            prev_value=st.prev_value, listed_shares=st.inst.listed_shares,
            market_cap=price * st.inst.listed_shares, vwap=st.value // st.volume if st.volume else price,
            high_250d=hi_p, low_250d=lo_p, high_250d_date=hi_d, low_250d_date=lo_d,
            year_high=year_hi, year_low=year_lo, expected_price=exp_price,
            expected_qty=exp_qty, vi_active=st.vi_until is not None, face_value=st.inst.face_value,
        )  # fmt: skip

    def order_book(self, code: str) -> OrderBook:
        st = self.eng.stock(code)
        asks = self.book_levels(st, Side.BUY)
        bids = self.book_levels(st, Side.SELL)
        prev = st.last_book
        ask_levels = tuple(BookLevel(p, q, q - prev.get(p, q)) for p, q in asks)
        bid_levels = tuple(BookLevel(p, q, q - prev.get(-p, q)) for p, q in bids)
        total_ask = sum(q for _, q in asks)
        total_bid = sum(q for _, q in bids)
        new_book = dict(asks) | {-p: q for p, q in bids}
        prev_ta, prev_tb = prev.get(0, total_ask), prev.get(1, total_bid)
        new_book[0], new_book[1] = total_ask, total_bid
        st.last_book = new_book
        q = self.quote(code)
        return OrderBook(
            code=st.inst.code, time=self.eng.now, asks=ask_levels, bids=bid_levels,
            total_ask_qty=total_ask, total_bid_qty=total_bid,
            total_ask_change=total_ask - prev_ta, total_bid_change=total_bid - prev_tb,
            expected_price=q.expected_price, expected_qty=q.expected_qty,
        )  # fmt: skip

    # ------------------------------------------------------------------ bars
    def _day_minute_bars(self, code: str, day: dt.date) -> list[Bar]:
        """1-minute bars of a day, oldest first."""
        eng = self.eng
        if day == eng.day:
            st = eng.stocks[code]
            items, base = sorted(st.bars.items()), st.base
        else:
            items, base = eng.history.minute_bars_of(code, day)
        open_at = eng.at(day, eng.t_open)
        return [
            Bar(code, open_at + dt.timedelta(minutes=m), 1, *b[:7], base)
            for m, b in items
            if b[4] > 0
        ]

    def day_minute_values(
        self, code: str, day: dt.date, after: int = -1
    ) -> tuple[dt.datetime, int, list[tuple[int, int, int]]]:
        """(the day's open, its base price, [(minute index, close, traded value)] of the minutes after
        `after` that traded, oldest first): the news source's cheap read of a day's bars."""
        eng = self.eng
        if day == eng.day:
            st = eng.stocks[code]
            items, base = sorted(i for i in st.bars.items() if i[0] > after), st.base
        else:
            items, base = eng.history.minute_bars_of(code, day)
            items = [i for i in items if i[0] > after]
        rows = [(m, b[3], b[5]) for m, b in items if b[4] > 0]
        return eng.at(day, eng.t_open), base, rows

    def minute_bars(
        self, code: str, minutes: int, before: dt.datetime | None, limit: int
    ) -> list[Bar]:
        eng = self.eng
        st = eng.stock(code)
        code = st.inst.code
        before = (before or (eng.now + dt.timedelta(minutes=1))).astimezone(KST)
        out: list[Bar] = []
        day = min(before.date(), eng.day)
        oldest = eng.days.previous(eng.day - dt.timedelta(days=365))
        while len(out) < limit and day > oldest:
            if eng.days.is_trading_day(day):
                bars = aggregate(self._day_minute_bars(code, day), minutes)
                out.extend(b for b in reversed(bars) if b.time < before)
            day = eng.days.previous(day)
        return out[:limit]

    def daily_bars(self, code: str, end: dt.date | None, limit: int) -> list[DailyBar]:
        eng = self.eng
        st = eng.stock(code)
        code = st.inst.code
        end = end or eng.day
        out: list[DailyBar] = []
        if end >= eng.day and st.volume > 0:
            out.append(
                DailyBar(code, eng.day, st.open, st.high, st.low, st.price, st.volume, st.value,
                         st.base, pct(st.volume, st.inst.listed_shares))
            )  # fmt: skip
        rec = sorted(
            (b for d, b in eng.history.recorded.get(code, {}).items() if d <= end and d != eng.day),
            key=lambda b: b.date,
            reverse=True,
        )
        out.extend(rec)
        need = limit - len(out)
        if need > 0:
            depth = need
            while True:
                hist = [b for b in eng.history.history(code, depth) if b.date <= end]
                if len(hist) >= need or depth > 20_000:
                    break
                depth += need
            out.extend(hist[:need])
        return out[:limit]

    # ------------------------------------------------------------------ statistics
    def _stats(self, st: StockDay) -> StockStats:
        price = st.last
        asks = self.book_levels(st, Side.BUY)
        bids = self.book_levels(st, Side.SELL)
        return StockStats(
            code=st.inst.code, name=st.inst.name, market=st.inst.market, price=price,
            base_price=st.base, change=price - st.base, change_rate_pct=pct(price - st.base, st.base),
            sign=change_sign(price, st.base, st.limits), best_ask=st.best_ask, best_bid=st.best_bid,
            volume=st.volume, value=st.value, prev_volume=st.prev_volume, prev_value=st.prev_value,
            prev_volume_same_time=self.eng.prev_same_time(st, self.eng.now),
            turnover_pct=pct(st.volume, st.inst.listed_shares), buy_volume=st.buy_volume,
            sell_volume=st.sell_volume, trade_count=st.buy_count + st.sell_count,
            ask_qty_total=sum(q for _, q in asks), bid_qty_total=sum(q for _, q in bids),
        )  # fmt: skip

    def stats(self, market: Market | None) -> list[StockStats]:
        rows = [self._stats(st) for c, st in sorted(self.eng.stocks.items())]
        ranked = sorted(rows, key=lambda r: (-r.prev_value, r.code))
        prev_rank = {r.code: i + 1 for i, r in enumerate(ranked)}
        rows = [replace(r, prev_rank_value=prev_rank[r.code]) for r in rows]
        return [r for r in rows if market is None or r.market is market]

    def rankings(self, kind: str, market: Market | None, limit: int) -> list[StockStats]:
        rows = self.stats(market)
        keys = {
            "value": lambda r: (-r.value, r.code),
            "volume": lambda r: (-r.volume, r.code),
            "change_up": lambda r: (-r.change_rate_pct, r.code),
            "change_down": lambda r: (r.change_rate_pct, r.code),
            "volume_surge": lambda r: (-(r.volume - r.prev_volume_same_time), r.code),
        }
        if kind not in keys:
            raise ValueError(f"unknown ranking {kind!r}")
        return sorted(rows, key=keys[kind])[:limit]

    def recent_volume(self, code: str, minutes: int) -> tuple[int, int]:
        st = self.eng.stock(code)
        m = self.eng.minute_index(self.eng.now)
        recent = sum(st.bars.get(i, [0] * 7)[4] for i in range(m - minutes + 1, m + 1))
        before = sum(
            st.bars.get(i, [0] * 7)[4] for i in range(m - 2 * minutes + 1, m - minutes + 1)
        )
        return recent, before


def aggregate(bars: list[Bar], minutes: int) -> list[Bar]:
    """1-minute bars grouped into `minutes`-minute bars from 09:00."""
    if minutes <= 1 or not bars:
        return bars
    open_at = bars[0].time.replace(hour=9, minute=0, second=0, microsecond=0)
    groups: dict[int, list[Bar]] = {}
    for b in bars:
        idx = int((b.time - open_at).total_seconds() // 60) // minutes
        groups.setdefault(idx, []).append(b)
    out = []
    for idx, g in sorted(groups.items()):
        out.append(
            Bar(
                g[0].code, open_at + dt.timedelta(minutes=idx * minutes), minutes, g[0].open,
                max(b.high for b in g), min(b.low for b in g), g[-1].close,
                sum(b.volume for b in g), sum(b.value for b in g), g[-1].cum_volume,
                g[0].prev_close,
            )
        )  # fmt: skip
    return out
