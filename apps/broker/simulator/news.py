"""The simulator's news source: scores that follow the simulated market, REST reads and a Redis publisher.

When no outside news service is configured, the project reads news scores from here (`GET /news/score`),
imports a day's history from here (`GET /news/items`) and, when the simulator is given a Redis URL, gets
breaking items published on the news channel. Framework-free: no Django imports.

The rule (README: "The bundled news source") is a pure function of the day's 1-minute bars, the stocks'
names and base prices, the date and the simulator's seed, so a replayed day produces the same history:

- checkpoints every `CHECKPOINT_MINUTES` from 09:05 to 15:20 KST; a checkpoint sees the bars that ended
  at or before it (`bar.time + 1 min <= checkpoint`);
- at a checkpoint every stock that traded gets its traded value so far (sum of bar values) and its change
  from the base price (last close vs base); its score is
  `clamp(40 + value_bonus + change_bonus + tone, 0, 100)` with `value_bonus` 30/25/20/15/10 for the
  trading-value ranks 1-5 (else 0), `change_bonus = clamp(round(4 × change %), -40, 25)` and `tone` a
  constant in -5..5 per (seed, date, code);
- a stock gets an item at a checkpoint when it is among the 5 trading-value leaders, the 3 strongest
  gainers or has fallen 4 % or more, and it has no item yet that day or its score moved by 5 or more
  since its last item. The item's time is the checkpoint's.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from krx import KST

log = logging.getLogger(__name__)

CHECKPOINT_MINUTES = 5
FIRST_CHECKPOINT = dt.time(9, 5)
LAST_CHECKPOINT = dt.time(15, 20)
VALUE_LEADERS = 5
GAINERS = 3
FALL_PCT = -4.0
MOVE_TO_REPEAT = 5
VALUE_BONUS = (30, 25, 20, 15, 10)
SOURCES = ("모의 연합뉴스", "모의 경제신문", "모의 증권방송")

_HEADLINES_UP = (
    "{name}, 거래대금 상위권… 매수세 유입",
    "{name} 강세, 기관·외국인 동반 순매수 소식",
    "{name}, 신규 수주 기대감에 상승",
    "{name} 실적 개선 전망에 주가 탄력",
)
_HEADLINES_FLAT = (
    "{name}, 거래 활발 속 보합권 등락",
    "{name} 관련 업황 점검… 시장 관심 지속",
)
_HEADLINES_DOWN = (
    "{name}, 차익실현 매물에 약세",
    "{name} 하락, 업황 둔화 우려 부각",
)


@dataclass(frozen=True, slots=True)
class MinuteValue:
    """What the rule reads of one 1-minute bar: its end time, close and traded value."""

    end: dt.datetime
    close: int
    value: int


@dataclass(frozen=True, slots=True)
class SimNews:
    code: str
    score: int
    headline: str
    source: str
    published_at: dt.datetime  # aware, KST

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "score": self.score,
            "headline": self.headline,
            "source": self.source,
            "published_at": self.published_at.isoformat(),
        }


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def tone(seed: int, day: dt.date, code: str) -> int:
    """The constant -5..5 of a stock's news on one day (its 'story' that day)."""
    return _digest(seed, day.isoformat(), code, "tone") % 11 - 5


def checkpoints(day: dt.date) -> list[dt.datetime]:
    first = dt.datetime.combine(day, FIRST_CHECKPOINT, tzinfo=KST)
    last = dt.datetime.combine(day, LAST_CHECKPOINT, tzinfo=KST)
    out = []
    at = first
    while at <= last:
        out.append(at)
        at += dt.timedelta(minutes=CHECKPOINT_MINUTES)
    return out


def score_of(value_rank: int, change_pct: float, tone_: int) -> int:
    value_bonus = VALUE_BONUS[value_rank - 1] if 1 <= value_rank <= len(VALUE_BONUS) else 0
    change_bonus = max(-40, min(25, round(4 * change_pct)))
    return max(0, min(100, 40 + value_bonus + change_bonus + tone_))


def _headline(name: str, score: int, pick: int) -> str:
    bank = _HEADLINES_UP if score >= 60 else _HEADLINES_DOWN if score < 40 else _HEADLINES_FLAT
    return bank[pick % len(bank)].format(name=name)


@dataclass
class DayNews:
    """The news of one day so far: checkpoints are added in order and never change once added (a
    checkpoint sees only bars that ended by then), so a day computed at once or step by step is the same."""

    day: dt.date
    seed: int
    items: list[SimNews] = field(default_factory=list)
    done: dt.datetime | None = None  # the last checkpoint computed
    last_score: dict[str, int] = field(default_factory=dict)

    def advance(
        self,
        names: Mapping[str, str],
        bases: Mapping[str, int],
        bars: Mapping[str, Sequence[MinuteValue]],
        until: dt.datetime | None = None,
    ) -> None:
        for at in checkpoints(self.day):
            if until is not None and at > until:
                break
            if self.done is not None and at <= self.done:
                continue
            self.items.extend(self._checkpoint(at, names, bases, bars))
            self.done = at

    def _checkpoint(
        self,
        at: dt.datetime,
        names: Mapping[str, str],
        bases: Mapping[str, int],
        bars: Mapping[str, Sequence[MinuteValue]],
    ) -> list[SimNews]:
        seen: list[tuple[str, int, float]] = []  # code, value so far, change %
        for code, rows in bars.items():
            base = bases.get(code, 0)
            value, close = 0, 0
            for b in rows:
                if b.end > at:
                    break
                value += b.value
                close = b.close
            if close and base > 0:
                seen.append((code, value, (close - base) * 100.0 / base))
        by_value = sorted(seen, key=lambda r: (-r[1], r[0]))
        value_rank = {r[0]: i for i, r in enumerate(by_value, 1)}
        gainers = sorted((r for r in seen if r[2] > 0), key=lambda r: (-r[2], r[0]))[:GAINERS]
        picked = {r[0] for r in by_value[:VALUE_LEADERS]} | {r[0] for r in gainers}
        picked |= {r[0] for r in seen if r[2] <= FALL_PCT}
        change = {r[0]: r[2] for r in seen}
        out = []
        for code in sorted(picked):
            score = score_of(value_rank[code], change[code], tone(self.seed, self.day, code))
            previous = self.last_score.get(code)
            if previous is not None and abs(score - previous) < MOVE_TO_REPEAT:
                continue
            self.last_score[code] = score
            pick = _digest(self.seed, self.day.isoformat(), code, at.strftime("%H%M"))
            out.append(
                SimNews(
                    code=code,
                    score=score,
                    headline=_headline(names.get(code, code), score, pick),
                    source=SOURCES[pick % len(SOURCES)],
                    published_at=at,
                )
            )
        return out


def day_news(
    day: dt.date,
    seed: int,
    names: Mapping[str, str],
    bases: Mapping[str, int],
    bars: Mapping[str, Sequence[MinuteValue]],
    until: dt.datetime | None = None,
) -> list[SimNews]:
    """Every news item of `day` up to `until` (default: the whole day), in time then code order. `bars`:
    each code's 1-minute bars, oldest first."""
    news = DayNews(day, seed)
    news.advance(names, bases, bars, until)
    return news.items


# --------------------------------------------------------------------------- over the exchange
class SimNewsSource:
    """The news of the exchange's days: computed from its minute bars, cached per finished checkpoint."""

    def __init__(self, exchange: Any, seed: int) -> None:
        self.exchange = exchange
        self.seed = seed
        self._past: dict[dt.date, list[SimNews]] = {}
        self._today: DayNews | None = None
        self._today_bars: dict[str, list[tuple[int, MinuteValue]]] = {}

    def _inputs(
        self, day: dt.date, before: dt.datetime
    ) -> tuple[dict[str, str], dict[str, int], dict[str, list[MinuteValue]]]:
        """Names, base prices and the bars that ended by `before`. Today's completed bars are kept between
        calls, so a new checkpoint reads only the minutes since the last one."""
        today = self._today_bars if self._today is not None and self._today.day == day else None
        names: dict[str, str] = {}
        bases: dict[str, int] = {}
        bars: dict[str, list[MinuteValue]] = {}
        for inst in self.exchange.instruments():
            code = inst.code
            names[code] = inst.name
            kept = today.get(code, []) if today is not None else []
            last = kept[-1][0] if kept else -1
            open_at, base, rows = self.exchange.day_minute_values(code, day, last)
            new = [
                (m, MinuteValue(open_at + dt.timedelta(minutes=m + 1), c, v)) for m, c, v in rows
            ]
            done = kept + [r for r in new if r[1].end <= before]
            if today is not None:
                today[code] = done
            if done:
                bases[code] = base
                bars[code] = [r[1] for r in done]
        return names, bases, bars

    def items(self, day: dt.date) -> list[SimNews]:
        """The day's items known at the exchange's now: the whole day for a past day, up to now for
        today, none for a later day."""
        now = self.exchange.now().astimezone(KST)
        today = now.date()
        if day > today:
            return []
        if day < today:
            if day not in self._past:
                end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=KST)
                self._past[day] = day_news(day, self.seed, *self._inputs(day, end))
                while len(self._past) > 30:
                    del self._past[next(iter(self._past))]
            return list(self._past[day])
        due = [at for at in checkpoints(day) if at <= now]
        if not due:
            return []
        if self._today is None or self._today.day != day:
            self._today = DayNews(day, self.seed)
            self._today_bars = {}
        if self._today.done != due[-1]:
            # Only the checkpoints passed since the last call are computed (bars up to now).
            self._today.advance(*self._inputs(day, now), until=due[-1])
        return list(self._today.items)

    def score(self, code: str) -> SimNews | None:
        """The latest item of `code` today (None: no news for it yet today)."""
        today = self.exchange.now().astimezone(KST).date()
        latest = None
        for item in self.items(today):
            if item.code == code:
                latest = item
        return latest


def parse_yyyymmdd(value: str) -> dt.date:
    if len(value) != 8 or not value.isdigit():
        raise ValueError("date must be YYYYMMDD")
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


# --------------------------------------------------------------------------- the publisher
Publish = Callable[[str, bytes], Any]


class NewsPublisher:
    """Publishes each new item of the simulated day on the Redis channel (JSON, the channel's schema)
    once its checkpoint has passed on the exchange's clock. Items due before the publisher started are
    not sent again (a restarted simulator does not replay the morning; REST serves them)."""

    def __init__(self, source: SimNewsSource, redis_url: str, channel: str) -> None:
        self.source = source
        self.redis_url = redis_url
        self.channel = channel
        self.published = 0
        self.failures = 0
        self._sent: set[tuple[str, str]] = set()
        self._since: dt.datetime | None = None
        self._day: dt.date | None = None
        self._redis: Any = None

    def due(self) -> list[SimNews]:
        """Items to send now (marks them sent)."""
        now = self.source.exchange.now().astimezone(KST)
        if self._since is None:
            self._since = now
        if self._day != now.date():
            self._day = now.date()
            self._sent.clear()
        out = []
        for item in self.source.items(now.date()):
            key = (item.code, item.published_at.isoformat())
            if item.published_at <= self._since or key in self._sent:
                continue
            self._sent.add(key)
            out.append(item)
        return out

    async def send(self, items: Iterable[SimNews]) -> None:
        import redis.asyncio as aioredis

        if self._redis is None:
            self._redis = aioredis.Redis.from_url(
                self.redis_url, socket_timeout=2, socket_connect_timeout=2
            )
        for item in items:
            await self._redis.publish(self.channel, orjson.dumps(item.as_json()))
            self.published += 1

    async def run(self, lock: asyncio.Lock, interval: float = 0.25) -> None:
        """Until cancelled. A Redis failure is logged (once per outage) and retried after 5 s; the items
        of the outage are not re-sent (REST has them)."""
        down = False
        while True:
            try:
                async with lock:
                    items = self.due()
                if items:
                    await self.send(items)
                if down:
                    log.info("news publisher: Redis reachable again")
                    down = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                if not down:
                    log.warning("news publisher: cannot publish (%s); retrying in 5 s", exc)
                    down = True
                await self.close()
                await asyncio.sleep(5)
                continue
            await asyncio.sleep(interval)

    async def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None
