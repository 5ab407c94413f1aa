"""The `strategy.engine` handler's support (`realtime_handlers.py` drives it): its database side and
the scanner's channel.

- The restart rebuild: `rebuild_read` (in the database thread) → `Rebuilt`, `replay_events` puts the
  latest scan, today's stored bars and today's condition events in exchange-time order.
- The periodic reads: `refresh_read` (settings, account, held/entered codes), `conditions_after` (the
  `ConditionEvent` log above an id); `bars_write` stores completed minute bars, `bar_event` converts one.
- `listen_scan_channel` / `parse_scan_message`: the scanner's Redis pub/sub messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

import krx

from . import feeds
from .engine.base import StrategySettings
from .engine.events import BarEvent, Candidate, ConditionEvent, Event, ScanEvent
from .engine.market import epoch_ms

# The handler's logger: these lines are the handler's.
log = logging.getLogger("apps.strategy.realtime_handlers")


@dataclass(frozen=True)
class Rebuilt:
    """What the database holds for a restart mid-session (read in one go in the database thread)."""

    account: str
    fired: list[str]
    held: frozenset[str]
    candidates: list[Candidate]
    scan: tuple[int, dt.datetime] | None
    bars: list[BarEvent]
    conditions: list[tuple[int, ConditionEvent]]
    last_condition_id: int
    dismissed: list[str] = field(default_factory=list)  # entries of `fired` that made no order


def replay_events(rebuilt: Rebuilt, now: dt.datetime) -> list[Event]:
    """What the rebuild feeds the engine, in exchange-time order (the scan, then bars, then
    condition events at the same time); a scan without a stored time counts at `now`."""
    events: list[tuple[dt.datetime, int, Event]] = []
    if rebuilt.scan is not None or rebuilt.candidates:
        scan_id, scan_at = rebuilt.scan if rebuilt.scan else (None, now)
        events.append((scan_at, 0, ScanEvent(scan_at, tuple(rebuilt.candidates), scan_id)))
    events.extend((bar.end, 1, bar) for bar in rebuilt.bars)
    events.extend((event.at, 2, event) for _, event in rebuilt.conditions)
    events.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in events]


MINUTE = dt.timedelta(minutes=1)


def bar_event(bar: Any) -> BarEvent:
    return BarEvent(
        code=bar.code,
        end=bar.end,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        value=bar.value,
    )


def stored_bar_events(codes: Any, after: dt.datetime, until: dt.datetime) -> list[BarEvent]:
    """The stored minute bars of `codes` ending in (after, until], as the engine's `BarEvent`s in
    time order (the handler's rebuild at start; the backtest's day, `apps.backtests.selectors`)."""
    from apps.market.models import MinuteBar

    return [
        BarEvent(
            code=b.instrument_id,
            end=b.time,
            open=b.open,
            high=b.high,
            low=b.low,
            close=b.close,
            volume=b.volume,
            value=b.value,
            end_ms=epoch_ms(b.time),
        )
        for b in MinuteBar.objects.filter(
            instrument_id__in=sorted(codes), time__gt=after, time__lte=until
        ).order_by("time", "instrument_id")
    ]


def day_minute_bars(broker: Any, code: str, day: dt.date) -> list[BarEvent]:
    """The day's 1-minute bars so far from the broker's minute chart (ka10080, newest first, one page:
    ~900 bars, more than a session), oldest first, as `BarEvent`s (a chart bar's time is its end)."""
    rows = broker.minute_bars(code, 1, max_pages=1)
    out = [
        BarEvent(
            code=code,
            end=row.at,
            open=row.open,
            high=row.high,
            low=row.low,
            close=row.close,
            volume=row.volume,
        )
        for row in rows
        if row.at.astimezone(krx.KST).date() == day
    ]
    out.sort(key=lambda e: e.end)
    return out


# Minute-chart reads on threads of their own. A restart warms up every watched code at its first tick,
# each read waiting its turn in the shared request budget at the lowest priority: on the default
# executor they held all of its threads for seconds, and the clock reads, quotes, cancels and condition
# subscriptions of every handler queued behind them (a realtime condition subscribed 7 s late).
_CHART_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="strategy-chart")


async def day_minute_bars_async(broker: Any, code: str, day: dt.date) -> list[BarEvent]:
    """`day_minute_bars` off the event loop, on the chart threads (never the default executor's)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_CHART_THREADS, day_minute_bars, broker, code, day)


# --------------------------------------------------------------------------------- database reads
def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=krx.KST)


def held_entered(account: str, day: dt.date | None, names: frozenset[str]) -> frozenset[str]:
    from apps.trades.models import Position

    from .models import Signal as SignalRow
    from .models import SignalStatus

    held = set(
        Position.objects.filter(
            account_no=account, quantity__gt=0, strategy_tag__in=list(names)
        ).values_list("code", flat=True)
    )
    if day is not None:
        held |= set(
            SignalRow.objects.filter(
                day=day, side="buy", status=SignalStatus.ACCEPTED, account_no=account
            ).values_list("code", flat=True)
        )
    return frozenset(held)


def refresh_read(
    day: dt.date | None, names: frozenset[str]
) -> tuple[dict[str, StrategySettings], str, frozenset[str]]:
    from apps.trades.services.executor import default_account

    fresh = feeds.active_settings()
    account = default_account()
    return fresh, account, held_entered(account, day, names | frozenset(fresh))


def conditions_after(last_id: int, limit: int = 500) -> list[tuple[int, ConditionEvent]]:
    from apps.conditions.models import ConditionEvent as ConditionRow
    from apps.conditions.models import EventKind

    rows = (
        ConditionRow.objects.filter(id__gt=last_id)
        .select_related("condition")
        .order_by("id")[:limit]
    )
    return [(row.pk, condition_event(row, EventKind.ENTRY)) for row in rows]


def condition_event(row: Any, entry_kind: str) -> ConditionEvent:
    """A stored `apps.conditions` `ConditionEvent` row (its condition selected) as the engine's event
    (also the backtest's: `apps.backtests.selectors`)."""
    return ConditionEvent(
        code=row.code,
        at=row.at,
        condition_seq=row.condition.seq,
        condition_name=row.condition.name,
        entered=row.kind == entry_kind,
        price=row.price,
        event_id=row.pk,
    )


def rebuild_read(day: dt.date, now: dt.datetime, top_n: int, names: frozenset[str]) -> Rebuilt:
    from django.db.models import Max

    from apps.conditions.models import ConditionEvent as ConditionRow
    from apps.trades.services.executor import default_account

    from .models import Signal as SignalRow
    from .models import SignalStatus

    start = day_start(day)
    account = default_account()
    fired = list(SignalRow.objects.filter(day=day).values_list("key", flat=True))
    dismissed = list(
        SignalRow.objects.filter(
            day=day,
            side="buy",
            order__isnull=True,
            status__in=[SignalStatus.REJECTED, SignalStatus.GATED, SignalStatus.FAILED],
        ).values_list("key", flat=True)
    )
    held = held_entered(account, day, names)
    candidates = feeds.latest_candidates()
    scan = feeds.latest_scan_meta()
    if scan is not None and scan[1] < start:
        scan, candidates = None, []  # an earlier day's run says nothing about today
    codes = {c.code for c in candidates[:top_n]} | held
    bars = stored_bar_events(codes, start, now)
    last_id = ConditionRow.objects.aggregate(m=Max("id"))["m"] or 0
    today = ConditionRow.objects.filter(at__gte=start, at__lte=now).values_list("id", flat=True)
    first_today = min(today, default=last_id + 1)
    conditions = [e for e in conditions_after(first_today - 1, 10_000) if e[0] <= last_id]
    conditions = [e for e in conditions if e[1].at >= start]
    return Rebuilt(
        account, fired, held, candidates, scan, bars, conditions, last_id, dismissed=dismissed
    )


def bars_write(bars: list[Any]) -> None:
    from apps.market.services import minute_bars_upsert

    minute_bars_upsert(bars, "live")


# --------------------------------------------------------------------------------- the scanner's channel
async def listen_scan_channel(on_message: Callable[[Any], Awaitable[None]]) -> None:
    """The scanner's pub/sub channel → ScanEvent (reconnecting with backoff)."""
    import redis.asyncio as aredis

    delay = 1.0
    while True:
        client = aredis.Redis.from_url(settings.REDIS_URL)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(feeds.scan_channel())
            delay = 1.0
            while True:
                # A bounded wait, under the client's socket timeout (redis-py's default 5 s
                # would otherwise end a quiet subscription with a TimeoutError).
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message.get("type") == "message":
                    await on_message(message.get("data"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("strategy: scan channel lost (%s); again in %.0f s", exc, delay)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


def parse_scan_message(data: Any) -> tuple[int | None, dt.datetime] | None:
    """`{snapshot_id, at}` → (snapshot id, aware exchange time); None (logged) when malformed."""
    try:
        body = json.loads(data)
        snapshot_id = body.get("snapshot_id")
        at = dt.datetime.fromisoformat(str(body["at"]))
        if at.tzinfo is None:
            raise ValueError("naive scan time")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("strategy: bad scan message %r (%s)", data, exc)
        return None
    return snapshot_id, at
