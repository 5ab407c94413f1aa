"""The opening scanner (seed 004 §6.3): in the first hour of the session, rank the trading-value leaders.

One run (`scan_run`) asks the broker for three rankings through the shared rate limiter (ka10032
trading value, ka10023 volume surge against the previous day, ka10027 gainers: three TR calls in the
SCAN priority class, outside any transaction), drops what the risk configuration excludes
(`apps.risk.snapshot.excluded_codes`: 거래정지, 관리종목, 투자경고/위험, VI, SPAC, ETN … as configured),
merges the rest into one list ranked by trading value (`scanner_merge`), adds each candidate's news score
(`apps.news.scores.get_score`; a dead news service stores no scores and marks the run `unavailable`: the
strategy fails closed) and stores the run — a `ScanSnapshot` and its `ScanRow`s in one transaction (one
bulk insert). After the commit it publishes `{snapshot_id, at}` on the Redis channel
`redis_key("strategy", "scan")` (the realtime strategy engine listens) and `scanner_update` on /ws/live.

Scheduling is on the exchange's clock (`scan_tick`, driven by the task `strategy.scan_tick`): see
`scanner_schedule` for the window and the slots, and `scan_tick` for how each slot is scanned once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from apps.broker.backends import exchange_now, get_broker
from apps.broker.contract import Broker, BrokerError, RankingKind, RankingRow
from apps.core.live import publish_soon
from apps.core.rediskeys import redis_key
from krx import calendar as krx_calendar
from krx.codes import clean_stock_code

from .scanner_merge import MergedRow, merge_rankings
from .scanner_models import NewsStatus, ScanRow, ScanSnapshot, ScanTrigger
from .scanner_schedule import ScanWindow, due_slot, next_slot

# The strategy engine's feed (`feeds.latest_candidates`) reads the candidates from this module.
from .scanner_selectors import latest_candidates as latest_candidates

log = logging.getLogger(__name__)

__all__ = [
    "SCAN_KINDS",
    "TickResult",
    "latest_candidates",
    "scan_channel",
    "scan_run",
    "scan_tick",
    "scan_window",
]

SCAN_KINDS = (RankingKind.TRADING_VALUE, RankingKind.VOLUME_SURGE, RankingKind.CHANGE_RATE)
CLAIM_TTL_SECONDS = 2 * 24 * 3600
# A follow-up tick is queued only when its slot is this close (wall seconds): before the window the
# beat entry's ticks wait, and no task sits in a worker's ETA queue for half an hour.
CHAIN_HORIZON_SECONDS = 120.0
# A queued tick lands this long after its minute starts, so the reader's clock is surely past it.
CHAIN_LATE_SECONDS = 0.05

_redis_lock = threading.Lock()
_redis_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    url = settings.REDIS_URL
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=2)
        return client


def scan_channel() -> str:
    """The Redis pub/sub channel of finished runs: `{"snapshot_id": …, "at": ISO 8601}` per run."""
    return redis_key("strategy", "scan")


def _time_setting(name: str) -> dt.time:
    raw = str(getattr(settings, name))
    try:
        return dt.time.fromisoformat(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a time (HH:MM, KST)") from exc


def scan_window() -> ScanWindow:
    """The scan window and interval the settings give (STRATEGY_SCAN_START/END/INTERVAL_MINUTES)."""
    try:
        return ScanWindow(
            start=_time_setting("STRATEGY_SCAN_START"),
            end=_time_setting("STRATEGY_SCAN_END"),
            interval_minutes=int(settings.STRATEGY_SCAN_INTERVAL_MINUTES),
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"opening scanner settings: {exc}") from exc


# ----------------------------------------------------------------------------------------- one run
def _rankings(broker: Broker) -> tuple[dict[RankingKind, list[RankingRow]], list[str]]:
    found: dict[RankingKind, list[RankingRow]] = {}
    errors: list[str] = []
    for kind in SCAN_KINDS:
        try:
            found[kind] = broker.rankings(kind)
        except BrokerError as exc:  # one ranking down: the others still rank
            errors.append(f"{kind.value}: {type(exc).__name__}: {exc}")
            log.warning("scanner: ranking %s failed (%s)", kind.value, type(exc).__name__)
    return found, errors


def _news_scores(codes: list[str]) -> tuple[dict[str, int | None], str]:
    """Each code's news score (None: no news), and the run's news status."""
    from apps.news.contract import NewsUnavailable
    from apps.news.scores import get_score

    scores: dict[str, int | None] = {}
    for code in codes:
        try:
            found = get_score(code)
        except NewsUnavailable:
            log.warning("scanner: news scores unavailable; the run stores none for the rest")
            return scores, NewsStatus.UNAVAILABLE
        except Exception:  # a broken news client must not stop the scan (fail closed)
            log.exception("scanner: news score of %s failed", code)
            return scores, NewsStatus.UNAVAILABLE
        scores[code] = found.score if found is not None else None
    return scores, NewsStatus.OK


def _excluded(
    rankings: dict[RankingKind, list[RankingRow]], day: dt.date
) -> tuple[set[str], list[dict[str, Any]]]:
    from apps.risk.snapshot import excluded_codes

    names: dict[str, str] = {}
    for rows in rankings.values():
        for row in rows:
            code = clean_stock_code(row.code or "")
            if code is not None:
                names.setdefault(code, row.name)
    kinds = excluded_codes(names, day)
    details = [
        {"code": code, "name": names.get(code, ""), "kinds": sorted(kinds[code])}
        for code in sorted(kinds)
    ]
    return set(kinds), details


def _row(snapshot: ScanSnapshot, merged: MergedRow, news: dict[str, int | None]) -> ScanRow:
    return ScanRow(
        snapshot=snapshot,
        rank=merged.rank,
        code=merged.code,
        name=merged.name[:100],
        price=merged.price,
        change_pct=merged.change_pct,
        value_krw=merged.value_krw,
        value_estimated=merged.value_estimated,
        volume=merged.volume,
        volume_ratio=merged.volume_ratio,
        news_score=news.get(merged.code),
        value_rank=merged.value_rank,
        surge_rank=merged.surge_rank,
        gain_rank=merged.gain_rank,
    )


def scan_run(
    broker: Broker | None = None,
    *,
    at: dt.datetime | None = None,
    slot: dt.datetime | None = None,
    trigger: str = ScanTrigger.SCHEDULE,
    top_n: int | None = None,
) -> ScanSnapshot | None:
    """One scan now: three rankings, exclusions, merge, news, stored; published after the commit.
    `at` is the exchange time of the run (default: the exchange's clock now); `slot` the scheduled
    minute it serves (unique). Returns the stored run, or None when another run already stored `slot`."""
    started = time.monotonic()
    at = at or exchange_now()
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the scanner")
    at = at.astimezone(dt.UTC)
    day = krx_calendar.trading_day_of(at)
    rankings, errors = _rankings(broker or get_broker())
    excluded, excluded_details = _excluded(rankings, day)
    limit = settings.STRATEGY_SCAN_TOP_N if top_n is None else top_n
    merged = merge_rankings(rankings, excluded=excluded, top_n=limit)
    news, news_status = _news_scores([row.code for row in merged])
    try:
        with transaction.atomic():
            snapshot = ScanSnapshot.objects.create(
                at=at,
                day=day,
                slot=slot,
                trigger=trigger,
                sources=[kind.value for kind in SCAN_KINDS if kind in rankings],
                duration_ms=int((time.monotonic() - started) * 1000),
                error="\n".join(errors),
                news=news_status,
                excluded=excluded_details,
                row_count=len(merged),
            )
            rows = ScanRow.objects.bulk_create([_row(snapshot, m, news) for m in merged])
            transaction.on_commit(lambda: _publish(snapshot, rows))
    except IntegrityError:
        log.info("scanner: slot %s was already scanned", slot)
        return None
    return snapshot


def _publish(snapshot: ScanSnapshot, rows: list[ScanRow]) -> None:
    from .scanner_selectors import snapshot_dict

    message = json.dumps({"snapshot_id": snapshot.pk, "at": snapshot.at.isoformat()})
    try:
        _redis().publish(scan_channel(), message)
    except redis.RedisError:
        log.exception("scanner: publishing run %s on %s failed", snapshot.pk, scan_channel())
    publish_soon("scanner_update", snapshot_dict(snapshot, rows))  # each run a stop of the replay


# --------------------------------------------------------------------------- the exchange-clock tick
@dataclass
class TickResult:
    now: dt.datetime
    slot: dt.datetime | None = None  # the slot this tick scanned
    snapshot_id: int | None = None
    skipped: str = ""
    follow_up: dt.datetime | None = None  # the slot a queued tick will serve
    countdown: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "slot": self.slot.isoformat() if self.slot else None,
            "snapshot_id": self.snapshot_id,
            "skipped": self.skipped,
            "follow_up": self.follow_up.isoformat() if self.follow_up else None,
            "countdown": self.countdown,
        }


def _claim(kind: str, slot: dt.datetime) -> bool:
    """SET NX on (kind, slot): True for exactly one caller across every worker."""
    key = redis_key("stockagent", "strategy", "scan", kind, slot.strftime("%Y%m%dT%H%MZ"))
    return bool(_redis().set(key, "1", nx=True, ex=CLAIM_TTL_SECONDS))


Enqueue = Callable[[dt.datetime, float], None]


def scan_tick(
    now: dt.datetime,
    speed: float,
    *,
    enqueue: Enqueue,
    target: dt.datetime | None = None,
    run: Callable[[dt.datetime, dt.datetime], ScanSnapshot | None] | None = None,
) -> TickResult:
    """One look at the exchange's clock (`now`, running at `speed` × wall time): scan the slot due now
    unless some worker already did (a Redis SET NX per slot, and the slot's unique row), and queue one
    tick for the next slot when it is near (`enqueue(slot, wall seconds)`; one per slot, also a SET NX),
    so an accelerated simulator gets a scan every simulated minute whatever the beat entry's period.
    A queued tick that arrives before its slot (`target`) queues itself again for the rest."""
    result = TickResult(now=now)
    if not settings.STRATEGY_SCAN_ENABLED:
        result.skipped = "disabled"
        return result
    window = scan_window()
    if target is not None and now < target:
        if speed > 0:
            result.follow_up, result.countdown = target, _wait(target, now, speed)
            enqueue(target, result.countdown)
        result.skipped = "early"
        return result
    upcoming = next_slot(now, window)
    if upcoming is not None and speed > 0:
        wait = _wait(upcoming, now, speed)
        if wait <= CHAIN_HORIZON_SECONDS and _claim("next", upcoming):
            result.follow_up, result.countdown = upcoming, wait
            enqueue(upcoming, wait)  # before the scan: the next minute must not wait for this one
    slot = due_slot(now, window)
    if slot is None:
        result.skipped = "outside the scan window"
        return result
    if not _claim("slot", slot):
        result.skipped = "already scanned"
        return result
    snapshot = (run or _scheduled_run)(now, slot)
    result.slot = slot
    result.snapshot_id = snapshot.pk if snapshot is not None else None
    return result


def _wait(slot: dt.datetime, now: dt.datetime, speed: float) -> float:
    return max((slot - now).total_seconds(), 0.0) / speed + CHAIN_LATE_SECONDS


def _scheduled_run(now: dt.datetime, slot: dt.datetime) -> ScanSnapshot | None:
    return scan_run(at=now, slot=slot, trigger=ScanTrigger.SCHEDULE)
