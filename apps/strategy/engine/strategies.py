"""The built-in strategies: `opening_breakout` (seed 004 §6.3–6.5) and `condition_entry`.

opening_breakout — buy a code when, at a trade (or, fed minute bars only, at a bar's close):
  1. the opening range is complete: the trade is at or after open + `opening_range_minutes`, and
     before open + `entry_end_minutes`;
  2. the code's trading-value rank in the latest scan of the day is ≤ `top_n` (a code missing from the
     latest scan has no rank: no entry);
  3. its news score is ≥ `news_threshold`: the latest of today's scores, from a scan candidate's
     `news_score` or a `NewsEvent`, whichever came later; no score today = no entry (fail closed);
  4. the price breaks the opening range high: price > opening high (and, when `max_extension_pct` is
     set, price ≤ opening high × (1 + max_extension_pct/100): no chasing a break long gone);
  5. the price is above VWAP: price > VWAP × (1 + `vwap_margin_pct`/100) — and it has been **holding**
     above it: each of the last `vwap_hold_bars` closed 1-minute bars closed above the session VWAP as
     it stood at that bar's close (0 = the current price alone decides; fewer closed bars than asked =
     not holding).
  One entry per code per day (key `opening_breakout:<code>:<day>:entry`).
  Exit (its own; stops, take-profit and the time exit are the risk engine's): for a code it entered
  today, the first closed bar after the entry whose close is below VWAP × (1 − `exit_vwap_margin_pct`/100)
  gives a sell (key `…:exit`), while `exit_on_vwap_break` is on. Exits keep running while the strategy
  is switched off (off = no new entries).

condition_entry — buy a code when it enters one of the chosen HTS conditions (`ConditionEvent` with
  `entered=True` and `condition_seq` in `condition_seqs`) and passes the filters that are set:
  `news_threshold` (today's news score ≥ it; none = no entry), `require_above_vwap` (the last price is
  above the session VWAP; no ticks of the code = no entry), `max_change_pct` (the change vs the previous
  close — the last tick's, else the latest scan's — is ≤ it; unknown = no entry). One entry per code per
  day (`condition_entry:<code>:<day>:entry`). No exit of its own (the risk engine's exits apply).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from .base import NO_SIGNALS, Strategy, StrategySettings, kst_day, parse_key, signal_key
from .events import ConditionEvent, NewsEvent, ScanEvent, Signal, TickEvent
from .market import CodeState, Market, MinuteBar, epoch_ms, ms_to_datetime
from .params import Param, Schema

__all__ = ["ConditionEntry", "NewsBook", "OpeningBreakout"]

UNKNOWN_ENTRY_MS = 2**62  # an entry restored without its time


def _pct(value: Decimal) -> float:
    return float(value) / 100.0


def _round(value: float | None, places: int = 2) -> float | None:
    return None if value is None else round(value, places)


class NewsBook:
    """Today's news score per code: the latest of the scan candidates' scores and news events."""

    __slots__ = ("scores",)

    def __init__(self) -> None:
        self.scores: dict[str, tuple[dt.date, int]] = {}

    def put(self, code: str, day: dt.date, score: int) -> None:
        current = self.scores.get(code)
        if current is None or current[0] <= day:
            self.scores[code] = (day, score)

    def score(self, code: str, day: dt.date) -> int | None:
        hit = self.scores.get(code)
        return hit[1] if hit is not None and hit[0] == day else None

    def on_scan(self, event: ScanEvent) -> None:
        day = kst_day(event.at)
        for c in event.candidates:
            if c.news_score is not None:
                self.put(c.code, day, c.news_score)

    def on_news(self, event: NewsEvent) -> None:
        self.put(event.code, kst_day(event.at), event.score)


def _breakout_check(values: dict[str, Any]) -> dict[str, list[str]]:
    if values["entry_end_minutes"] <= values["opening_range_minutes"]:
        return {
            "entry_end_minutes": ["시가 범위(분)보다 커야 합니다 (must be after the opening range)"]
        }
    return {}


class OpeningBreakout(Strategy):
    name = "opening_breakout"
    label = "장초 주도주 돌파"
    label_en = "Opening leader breakout"
    schema = Schema(
        (
            Param("top_n", "int", 5, "거래대금 순위 상한 (TOP N)", "Trading-value rank ≤ N",
                  min=1, max=100),
            Param("news_threshold", "int", 70, "뉴스 점수 임계치", "News score threshold (≥)",
                  min=0, max=100),
            Param("opening_range_minutes", "int", 5, "시가 범위(분)", "Opening range (minutes)",
                  min=1, max=60),
            Param("entry_end_minutes", "int", 60, "진입 마감(개장 후 분)",
                  "Entries until (minutes after the open)", min=2, max=380),
            Param("vwap_margin_pct", "decimal", Decimal("0"), "VWAP 기준값 (VWAP 위 %)",
                  "VWAP margin (% above VWAP)", min=Decimal(0), max=Decimal(10)),
            Param("vwap_hold_bars", "int", 2, "VWAP 위 유지 봉 수", "Bars closed above VWAP",
                  help="직전 N개 1분봉 종가가 모두 VWAP 위 (0: 현재가만)", min=0, max=30),
            Param("max_extension_pct", "decimal", Decimal(3), "고가 대비 최대 추격(%)",
                  "Max % above the opening high", min=Decimal("0.1"), max=Decimal(30),
                  nullable=True),
            Param("exit_on_vwap_break", "bool", True, "VWAP 이탈 시 매도", "Sell on a VWAP breakdown"),
            Param("exit_vwap_margin_pct", "decimal", Decimal("0.5"), "VWAP 이탈 기준(% 아래)",
                  "VWAP breakdown margin (% below)", min=Decimal(0), max=Decimal(10)),
        ),
        check=_breakout_check,
    )  # fmt: skip

    def __init__(self, settings: StrategySettings, market: Market | None = None) -> None:
        self.ranks: dict[str, int] = {}
        self.rank_day: dt.date | None = None
        self.news = NewsBook()
        self.entries: dict[str, tuple[dt.date, int]] = {}  # code → (day, entry time ms)
        self.exits: set[tuple[str, dt.date]] = set()
        super().__init__(settings, market)

    def apply_params(self, params: Mapping[str, Any]) -> None:
        self.top_n = int(params["top_n"])
        self.news_threshold = int(params["news_threshold"])
        self.or_minutes = int(params["opening_range_minutes"])
        self.entry_end_minutes = int(params["entry_end_minutes"])
        self.vwap_factor = 1.0 + _pct(params["vwap_margin_pct"])
        self.hold_bars = int(params["vwap_hold_bars"])
        ext = params["max_extension_pct"]
        self.max_ext_factor = None if ext is None else 1.0 + _pct(ext)
        self.exit_on = bool(params["exit_on_vwap_break"])
        self.exit_factor = 1.0 - _pct(params["exit_vwap_margin_pct"])

    def restore(self, keys: Iterable[str], times: Mapping[str, dt.datetime]) -> None:
        for key in keys:
            parsed = parse_key(key)
            if parsed is None or parsed[0] != self.name:
                continue
            _, code, day, kind = parsed
            if kind == "entry":
                when = times.get(key)
                # Without the entry's time only live bars count for the exit (UNKNOWN_ENTRY_MS).
                self.entries.setdefault(
                    code, (day, epoch_ms(when) if when is not None else UNKNOWN_ENTRY_MS)
                )
            elif kind == "exit":
                self.exits.add((code, day))

    def dismiss(self, signal: Signal) -> None:
        """An entry that made no order: its code is not watched for the VWAP-breakdown exit."""
        entry = self.entries.get(signal.code)
        if signal.side == "buy" and entry is not None and entry[0] == kst_day(signal.at):
            del self.entries[signal.code]

    # ------------------------------------------------------------------ inputs
    def on_scan(self, event: ScanEvent) -> Sequence[Signal]:
        self.rank_day = kst_day(event.at)
        self.ranks = {c.code: c.rank for c in event.candidates}
        self.news.on_scan(event)
        return NO_SIGNALS

    def on_news(self, event: NewsEvent) -> Sequence[Signal]:
        self.news.on_news(event)
        return NO_SIGNALS

    def on_tick(self, state: CodeState, event: TickEvent) -> Sequence[Signal]:
        rank = self.ranks.get(state.code)
        if rank is None or rank > self.top_n or not self._settings.enabled:
            return NO_SIGNALS
        return self._entry(state, event.price, state.last_ms, rank)

    def on_bar(self, state: CodeState, bar: MinuteBar, from_ticks: bool) -> Sequence[Signal]:
        out: Sequence[Signal] = NO_SIGNALS
        entry = self.entries.get(state.code)
        if entry is not None and entry[0] == state.day:
            since = entry[1]
            if since == UNKNOWN_ENTRY_MS:
                since = -1 if from_ticks else UNKNOWN_ENTRY_MS
            if self.exit_on and bar.end_ms > since:
                out = self._exit(state, bar)
        elif not from_ticks and self._settings.enabled:
            # Fed minute bars only: judge the rule at the bar's close, with the close as the price.
            rank = self.ranks.get(state.code)
            if rank is not None and rank <= self.top_n:
                out = self._entry(state, bar.close, bar.end_ms, rank)
        return out

    # ------------------------------------------------------------------ rules
    def _entry(self, state: CodeState, price: int, ts_ms: int, rank: int) -> Sequence[Signal]:
        code = state.code
        entry = self.entries.get(code)
        if entry is not None and entry[0] == state.day:
            return NO_SIGNALS
        if self.rank_day != state.day:
            return NO_SIGNALS
        or_end = state.open_ms + self.or_minutes * 60_000
        if ts_ms < or_end or ts_ms >= state.open_ms + self.entry_end_minutes * 60_000:
            return NO_SIGNALS
        opening = state.opening_range(self.or_minutes)
        if opening is None or price <= opening[0]:
            return NO_SIGNALS
        high, low = opening
        if self.max_ext_factor is not None and price > high * self.max_ext_factor:
            return NO_SIGNALS
        vwap = state.vwap
        if vwap is None or price <= vwap * self.vwap_factor:
            return NO_SIGNALS
        if self.hold_bars:
            bars = state.bars
            if len(bars) < self.hold_bars:
                return NO_SIGNALS
            for bar in bars[-self.hold_bars :]:
                if bar.close <= bar.vwap:
                    return NO_SIGNALS
        news = self.news.score(code, state.day)
        if news is None or news < self.news_threshold:
            return NO_SIGNALS
        self.entries[code] = (state.day, ts_ms)
        last = state.bars[-1] if state.bars else None
        distance = (price - vwap) / vwap * 100.0
        features = {
            "rule": "opening_breakout",
            "rank": rank,
            "top_n": self.top_n,
            "news_score": news,
            "news_threshold": self.news_threshold,
            "price": price,
            "vwap": _round(vwap),
            "vwap_distance_pct": _round(distance, 3),
            "opening_high": high,
            "opening_low": low,
            "opening_range_minutes": self.or_minutes,
            "hold_bars": self.hold_bars,
            "bar_time": ms_to_datetime(last.end_ms).isoformat() if last else None,
        }
        reason = (
            f"장초 고가 {high:,} 돌파 {price:,} · VWAP {vwap:,.0f} 위 ({distance:+.2f}%) · "
            f"거래대금 {rank}위 · 뉴스 {news}"
        )
        return [
            Signal(
                strategy=self.name,
                code=code,
                side="buy",
                at=ms_to_datetime(ts_ms),
                reason=reason,
                price=price,
                features=features,
                key=signal_key(self.name, code, state.day, "entry"),
            )
        ]

    def _exit(self, state: CodeState, bar: MinuteBar) -> Sequence[Signal]:
        code = state.code
        if (code, state.day) in self.exits or bar.close >= bar.vwap * self.exit_factor:
            return NO_SIGNALS
        self.exits.add((code, state.day))
        distance = (bar.close - bar.vwap) / bar.vwap * 100.0
        opening = state.opening_range(self.or_minutes)
        features = {
            "rule": "vwap_breakdown",
            "price": bar.close,
            "vwap": _round(bar.vwap),
            "vwap_distance_pct": _round(distance, 3),
            "exit_margin_pct": _round((1.0 - self.exit_factor) * 100.0, 4),
            "opening_high": opening[0] if opening else None,
            "opening_low": opening[1] if opening else None,
            "rank": self.ranks.get(code),
            "news_score": self.news.score(code, state.day),
            "bar_time": ms_to_datetime(bar.end_ms).isoformat(),
        }
        reason = f"VWAP 이탈: 1분봉 종가 {bar.close:,} < VWAP {bar.vwap:,.0f} ({distance:+.2f}%)"
        return [
            Signal(
                strategy=self.name,
                code=code,
                side="sell",
                at=ms_to_datetime(bar.end_ms),
                reason=reason,
                price=bar.close,
                features=features,
                key=signal_key(self.name, code, state.day, "exit"),
            )
        ]


class ConditionEntry(Strategy):
    name = "condition_entry"
    label = "조건검색 편입 매수"
    label_en = "Condition entry"
    schema = Schema(
        (
            Param("condition_seqs", "str_list", (), "매수할 조건식 번호", "Condition numbers to buy on",
                  help="쉼표로 구분 (예: 0,3)", max_items=10),
            Param("news_threshold", "int", None, "뉴스 점수 임계치 (비우면 사용 안 함)",
                  "News score threshold (empty: off)", min=0, max=100, nullable=True),
            Param("require_above_vwap", "bool", False, "현재가 VWAP 위일 때만", "Only above VWAP"),
            Param("max_change_pct", "decimal", None, "최대 등락률(%) (비우면 사용 안 함)",
                  "Max change % (empty: off)", min=Decimal(-30), max=Decimal(30), nullable=True),
        )
    )  # fmt: skip

    def __init__(self, settings: StrategySettings, market: Market | None = None) -> None:
        self.news = NewsBook()
        self.scan_change: dict[str, tuple[dt.date, Decimal]] = {}
        self.entered: set[tuple[str, dt.date]] = set()
        super().__init__(settings, market)

    def apply_params(self, params: Mapping[str, Any]) -> None:
        self.seqs = frozenset(params["condition_seqs"])
        self.news_threshold: int | None = params["news_threshold"]
        self.above_vwap = bool(params["require_above_vwap"])
        self.max_change: Decimal | None = params["max_change_pct"]

    def restore(self, keys: Iterable[str], times: Mapping[str, dt.datetime]) -> None:
        for key in keys:
            parsed = parse_key(key)
            if parsed is not None and parsed[0] == self.name and parsed[3] == "entry":
                self.entered.add((parsed[1], parsed[2]))

    def on_scan(self, event: ScanEvent) -> Sequence[Signal]:
        self.news.on_scan(event)
        day = kst_day(event.at)
        for c in event.candidates:
            if c.change_pct is not None:
                self.scan_change[c.code] = (day, c.change_pct)
        return NO_SIGNALS

    def on_news(self, event: NewsEvent) -> Sequence[Signal]:
        self.news.on_news(event)
        return NO_SIGNALS

    def on_condition(self, event: ConditionEvent) -> Sequence[Signal]:
        if not (event.entered and self._settings.enabled and event.condition_seq in self.seqs):
            return NO_SIGNALS
        code = event.code
        day = kst_day(event.at)
        if (code, day) in self.entered:
            return NO_SIGNALS
        state = self.market.state(code)
        if state is not None and state.day != day:
            state = None
        price = event.price if event.price is not None else (state.last_price if state else None)
        vwap = state.vwap if state is not None else None
        news = self.news.score(code, day)
        if self.news_threshold is not None and (news is None or news < self.news_threshold):
            return NO_SIGNALS
        if self.above_vwap and (vwap is None or price is None or price <= vwap):
            return NO_SIGNALS
        change = state.change_pct if state is not None else None
        if change is None:
            scanned = self.scan_change.get(code)
            change = scanned[1] if scanned is not None and scanned[0] == day else None
        if self.max_change is not None and (change is None or change > self.max_change):
            return NO_SIGNALS
        self.entered.add((code, day))
        features = {
            "rule": "condition_entry",
            "condition_seq": event.condition_seq,
            "condition_name": event.condition_name,
            "condition_event_id": event.event_id,
            "price": price,
            "news_score": news,
            "vwap": _round(vwap),
            "vwap_distance_pct": _round((price - vwap) / vwap * 100.0, 3)
            if price and vwap
            else None,
            "change_pct": None if change is None else str(change),
        }
        reason = f"조건식 편입: [{event.condition_seq}] {event.condition_name}"
        return [
            Signal(
                strategy=self.name,
                code=code,
                side="buy",
                at=event.at,
                reason=reason,
                price=price,
                features=features,
                key=signal_key(self.name, code, day, "entry"),
            )
        ]
