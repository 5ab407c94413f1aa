"""The `strategy.engine` handler on fake feeds (no socket): what it watches, every source turned into the
engine's events in exchange time, signals sent once, the heartbeat and system_status, and a restart
mid-session that keeps the opening range and never repeats an entry."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.broker.backends.memory import MemoryBroker
from apps.broker.kiwoom.events import make_tick
from apps.conditions.tests.factories import ConditionEventFactory, ConditionFactory
from apps.core.models import RuntimeFlag
from apps.realtime.handlers import HubContext
from apps.risk.testing import permissive_config
from apps.strategy import feeds, realtime_handlers, status
from apps.strategy.engine.events import (
    BarEvent,
    Candidate,
    ConditionEvent,
    NewsEvent,
    ScanEvent,
    TickEvent,
)
from apps.strategy.models import Signal as SignalRow
from apps.strategy.models import SignalStatus
from apps.strategy.realtime_handlers import StrategyEngineHandler
from apps.trades.models import Order
from apps.trades.services.aorder import aorder_db_close
from apps.trades.tests.factories import PositionFactory

from .support import (
    DAY,
    FirstTickBuyer,
    Place,
    RangeBreaker,
    Recorder,
    at,
    engine_builder,
    settings_of,
)

pytestmark = pytest.mark.django_db(transaction=True)

CODE = "005930"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Setup:
    clock: Clock
    place: Place
    pushes: list[tuple[str, dict[str, Any]]]
    news: list[Any]


@pytest.fixture(autouse=True)
async def _close_order_thread():  # type: ignore[no-untyped-def]
    yield
    await aorder_db_close()


@pytest.fixture
def setup(monkeypatch, db) -> Setup:  # type: ignore[no-untyped-def]
    permissive_config()
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
    pushes: list[tuple[str, dict[str, Any]]] = []
    news: list[Any] = []

    def publish(event_type: str, data: Any, *args: Any, **kwargs: Any) -> None:
        pushes.append((event_type, data))

    monkeypatch.setattr(realtime_handlers, "publish_soon", publish)

    def subscribe(callback: Any) -> Any:
        news.append(callback)
        return lambda: news.remove(callback)

    monkeypatch.setattr(feeds, "news_subscribe", subscribe)
    monkeypatch.setattr(feeds, "latest_candidates", lambda: [])
    monkeypatch.setattr(feeds, "latest_scan_meta", lambda: None)
    yield Setup(Clock(at("09:00:00")), Place(), pushes, news)
    redis.Redis.from_url(settings.REDIS_URL).delete(status.heartbeat_key())


def use(monkeypatch, *classes: Any, **strategy_settings: Any) -> None:  # type: ignore[no-untyped-def]
    found = {cls.name: settings_of(cls.name, **strategy_settings) for cls in classes}
    monkeypatch.setattr(feeds, "active_settings", lambda: found)
    monkeypatch.setattr(feeds, "build_engine", engine_builder(*classes))


def handler(setup: Setup, **options: Any) -> StrategyEngineHandler:
    ctx = HubContext(MemoryBroker(), {"strategy_place": setup.place, **options})
    return StrategyEngineHandler(ctx, exchange_now=setup.clock)


def tick(h: StrategyEngineHandler, price: int, moment: dt.datetime, code: str = CODE) -> None:
    """What the hub does with a 0B frame: the last-price cache, then the handler's queue."""
    event = make_tick(code, price, 10, moment)
    h.ctx.prices.record(code, event)
    h.on_event(event)


async def settle(h: StrategyEngineHandler) -> None:
    while h._tasks:
        await asyncio.gather(*list(h._tasks))


def candidate(code: str, rank: int) -> Candidate:
    return Candidate(code, f"종목{code}", rank, 10**10, Decimal(3), Decimal(5), 70_000, 80)


def recorder(h: StrategyEngineHandler) -> Recorder:
    assert h.engine is not None
    strategy = h.engine.strategies[0]
    assert isinstance(strategy, Recorder)
    return strategy


async def test_it_watches_the_top_candidates_and_what_it_holds_or_entered(  # type: ignore[no-untyped-def]
    setup, monkeypatch
) -> None:
    use(monkeypatch, Recorder)
    monkeypatch.setattr(
        feeds, "latest_candidates", lambda: [candidate(f"00000{i}", i) for i in range(1, 6)]
    )
    monkeypatch.setattr(feeds, "latest_scan_meta", lambda: (7, at("09:00:00")))
    await sync_to_async(PositionFactory)(code="000660", strategy_tag="recorder")
    await sync_to_async(PositionFactory)(code="035720", strategy_tag="manual")
    h = handler(setup, strategy_watch_top=3)
    await h.on_start(h.ctx)
    assert (await h.wants()).ticks == {"000001", "000002", "000003", "000660"}
    # The rebuild handed the engine the latest scan.
    scans = [e for e in recorder(h).seen if isinstance(e, ScanEvent)]
    assert [s.snapshot_id for s in scans] == [7] and len(scans[0].candidates) == 5
    await h.on_stop()


async def test_ticks_become_tick_events_and_completed_minutes_bar_events(  # type: ignore[no-untyped-def]
    setup, monkeypatch
) -> None:
    use(monkeypatch, Recorder)
    h = handler(setup)
    await h.on_start(h.ctx)
    tick(h, 70_000, at("09:00:01"))
    tick(h, 70_500, at("09:00:30"))
    tick(h, 70_100, at("09:01:02"))  # opens 09:01: the 09:00 bar is complete
    seen = [e for e in recorder(h).seen if isinstance(e, TickEvent | BarEvent)]
    assert [type(e).__name__ for e in seen] == ["TickEvent", "TickEvent", "BarEvent", "TickEvent"]
    bar = seen[2]
    assert isinstance(bar, BarEvent)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        70_000,
        70_500,
        70_000,
        70_500,
        20,
    )
    assert bar.end == at("09:01:00")
    assert seen[3].at == at("09:01:02")  # exchange time, from the frame
    # The exchange clock closes the quiet 09:01 bar at the next cycle, and the bars are stored.
    setup.clock.now = at("09:02:05")
    await h.on_cycle()
    bars = [e for e in recorder(h).seen if isinstance(e, BarEvent)]
    assert [b.end for b in bars] == [at("09:01:00"), at("09:02:00")]
    from apps.market.models import MinuteBar

    stored = await sync_to_async(list)(
        MinuteBar.objects.filter(instrument_id=CODE).order_by("time")
    )
    assert [b.time for b in stored] == [at("09:01:00"), at("09:02:00")]
    await h.on_stop()


async def test_scan_news_and_condition_events_reach_the_engine(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    use(monkeypatch, Recorder)
    monkeypatch.setattr(feeds, "latest_candidates", lambda: [candidate("000001", 1)])
    condition = await sync_to_async(ConditionFactory)(seq="3", name="돌파")
    before = await sync_to_async(ConditionEventFactory)(
        condition=condition, code="000002", at=at("08:59:00") - dt.timedelta(days=1)
    )
    h = handler(setup)
    await h.on_start(h.ctx)
    assert h.last_condition_id == before.pk  # yesterday's entries are not replayed
    # The scanner's Redis message.
    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = asyncio.get_running_loop().time() + 10
    message = json.dumps({"snapshot_id": 11, "at": at("09:05:00").isoformat()})

    def scans() -> list[ScanEvent]:
        return [e for e in recorder(h).seen if isinstance(e, ScanEvent) and e.snapshot_id == 11]

    while not scans():
        client.publish(feeds.scan_channel(), message)  # until the listener has subscribed
        await asyncio.sleep(0.05)
        assert asyncio.get_running_loop().time() < deadline, "no ScanEvent"
    client.close()
    scan = scans()[0]
    assert scan.at == at("09:05:00")
    assert [c.code for c in scan.candidates] == ["000001"]
    assert "000001" in (await h.wants()).ticks
    # A breaking-news item through the news app's subscriber list (called from another thread).
    from apps.news.contract import NewsItem

    item = NewsItem("000001", 91, "수주", "test", at("09:06:00"))
    await asyncio.to_thread(setup.news[0], item)
    await asyncio.sleep(0.05)
    assert NewsEvent("000001", at("09:06:00"), 91, "수주", "test") in recorder(h).seen
    # A condition entry recorded by a worker: read from the log at the next cycle.
    entry = await sync_to_async(ConditionEventFactory)(
        condition=condition, code="000003", at=at("09:07:00"), price=12_000
    )
    await h.on_cycle()
    # One recorded in this process: the conditions app's signal pokes the handler at once.
    from apps.conditions.events import ConditionChange, send_changes

    second = await sync_to_async(ConditionEventFactory)(
        condition=condition, code="000004", at=at("09:07:30"), kind="exit", price=None
    )
    change = ConditionChange(
        second.pk,
        condition.pk,
        "3",
        "돌파",
        "000004",
        "",
        False,
        second.at,
        None,
        None,
        None,
        "realtime",
    )
    await asyncio.to_thread(send_changes, [change])
    await asyncio.sleep(0.1)
    await settle(h)
    got = [e for e in recorder(h).seen if isinstance(e, ConditionEvent)]
    assert got == [
        ConditionEvent("000003", at("09:07:00"), "3", "돌파", True, 12_000, entry.pk),
        ConditionEvent("000004", at("09:07:30"), "3", "돌파", False, None, second.pk),
    ]
    await h.on_stop()


async def test_a_signal_becomes_one_order_and_the_status_is_pushed(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    use(monkeypatch, FirstTickBuyer)
    h = handler(setup)
    await h.on_start(h.ctx)
    for second in range(1, 6):
        tick(h, 70_000 + second * 100, at(f"09:00:0{second}"))
    await settle(h)
    assert len(setup.place.calls) == 1
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.ACCEPTED and row.order_id is not None
    assert row.at == at("09:00:01") and row.day == DAY
    assert CODE in (await h.wants()).ticks  # entered today: watched
    assert h.stats.signals == 1 and h.stats.by_status == {"accepted": 1}
    # The engine's heartbeat (health) and system_status.
    await h.on_cycle()
    health = await asyncio.to_thread(status.engine_health)
    assert health["running"] is True and health["strategies"] == ["first_tick"]
    kinds = [t for t, _ in setup.pushes]
    assert kinds[0] == "system_status"
    first = setup.pushes[0][1]
    assert first["status"] == "running" and first["engine_running"] is True
    # The trader switches automatic trading off: the next cycle says so.
    await sync_to_async(RuntimeFlag.objects.filter(key="trading-enabled").update)(enabled=False)
    await h.on_cycle()
    last = [d for t, d in setup.pushes if t == "system_status"][-1]
    assert last["status"] == "paused" and last["entries_allowed"] is False
    await h.on_stop()
    assert (await asyncio.to_thread(status.engine_health))["running"] is False
    assert [d for t, d in setup.pushes if t == "system_status"][-1]["status"] == "stopped"


async def test_a_restart_mid_session_keeps_the_opening_range_and_never_repeats_an_entry(  # type: ignore[no-untyped-def]
    setup, monkeypatch
) -> None:
    use(monkeypatch, RangeBreaker)
    monkeypatch.setattr(feeds, "latest_candidates", lambda: [candidate(CODE, 1)])
    monkeypatch.setattr(feeds, "latest_scan_meta", lambda: (1, at("09:00:00")))
    first = handler(setup)
    await first.on_start(first.ctx)
    # Two minutes build the range (high 70,500), the third breaks it.
    tick(first, 70_000, at("09:00:10"))
    tick(first, 70_500, at("09:00:40"))
    tick(first, 70_200, at("09:01:10"))
    tick(first, 70_300, at("09:01:50"))
    setup.clock.now = at("09:02:01")
    await first.on_cycle()  # closes and stores the 09:01 and 09:02 bars
    breaker = first.engine.strategies[0]  # type: ignore[union-attr]
    assert isinstance(breaker, RangeBreaker) and breaker.range_high(CODE) == 70_500
    tick(first, 70_600, at("09:02:05"))
    await settle(first)
    assert len(setup.place.calls) == 1
    await first.on_stop()

    # The process restarts at 09:02:30: the range is rebuilt from the stored bars and the fired key.
    setup.clock.now = at("09:02:30")
    second = handler(setup)
    await second.on_start(second.ctx)
    rebuilt = second.engine.strategies[0]  # type: ignore[union-attr]
    assert isinstance(rebuilt, RangeBreaker) and rebuilt.range_high(CODE) == 70_500
    assert f"range:{CODE}:{DAY}:entry" in second.engine.fired  # type: ignore[union-attr]
    tick(second, 70_700, at("09:02:31"))
    tick(second, 70_800, at("09:02:40"))
    await settle(second)
    assert len(setup.place.calls) == 1
    assert await sync_to_async(Order.objects.count)() == 1
    assert await sync_to_async(SignalRow.objects.count)() == 1
    assert second.stats.signals == 0 and second.stats.replayed >= 3
    await second.on_stop()


class BarBuyer(Recorder):
    """Buys a code on a bar closing at or above 70,400 (so the rebuild's replay itself signals)."""

    name = "bar_buyer"

    def on_event(self, event: Any) -> list[Any]:
        from apps.strategy.engine.events import Signal

        if not isinstance(event, BarEvent) or event.close < 70_400:
            return []
        return [
            Signal(
                self.name, event.code, "buy", event.end, "bar", event.close, {}, f"b:{event.code}"
            )
        ]


async def test_a_rebuilt_signal_is_sent_only_when_fresh(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Bars stored while the process was down: a signal the replay produces from a bar within the
    freshness window is sent (missed while down); an older one is not chased."""
    from apps.market.aggregator import Bar
    from apps.market.services import minute_bars_upsert

    use(monkeypatch, BarBuyer)
    monkeypatch.setattr(
        feeds, "latest_candidates", lambda: [candidate(CODE, 1), candidate("000660", 2)]
    )
    bars = [
        Bar(CODE, at("09:01:00"), 70_000, 70_500, 70_000, 70_400, 100, None),  # stale at 09:30
        Bar("000660", at("09:29:00"), 70_000, 70_500, 70_000, 70_400, 100, None),  # fresh
    ]
    await sync_to_async(minute_bars_upsert)(bars, "live")
    setup.clock.now = at("09:29:30")
    h = handler(setup, strategy_fresh=60)
    await h.on_start(h.ctx)
    await settle(h)
    assert h.stats.stale_signals == 1 and h.stats.signals == 1
    assert [c["code"] for c in setup.place.calls] == ["000660"]
    await h.on_stop()


async def test_a_new_trading_day_gets_a_fresh_engine(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    use(monkeypatch, FirstTickBuyer, budget=10_000_000, entry_krw=1_000_000)
    h = handler(setup)
    await h.on_start(h.ctx)
    tick(h, 70_000, at("09:00:01"))
    await settle(h)
    old = h.engine
    # The exchange's clock reaches the next session (the simulator rolling on): one entry per day.
    next_day = dt.date(2025, 2, 5)
    setup.clock.now = at("09:00:00", next_day)
    await h.on_cycle()
    assert h.engine is not old and h.day == next_day
    tick(h, 71_000, at("09:00:02", next_day))
    tick(h, 71_100, at("09:00:03", next_day))
    await settle(h)
    assert len(setup.place.calls) == 2
    days = await sync_to_async(list)(
        SignalRow.objects.order_by("day").values_list("day", flat=True)
    )
    assert days == [DAY, next_day]
    await h.on_stop()


async def test_a_strategy_added_to_the_configuration_rebuilds_the_engine(
    setup, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    use(monkeypatch, Recorder)
    h = handler(setup)
    await h.on_start(h.ctx)
    tick(h, 70_000, at("09:00:01"))
    found = {"recorder": settings_of("recorder"), "first_tick": settings_of("first_tick")}
    monkeypatch.setattr(feeds, "active_settings", lambda: found)
    monkeypatch.setattr(feeds, "build_engine", engine_builder(Recorder, FirstTickBuyer))
    await h.on_cycle()
    assert [s.name for s in h.engine.strategies] == ["recorder", "first_tick"]  # type: ignore[union-attr]
    tick(h, 70_100, at("09:00:05"))
    await settle(h)
    assert len(setup.place.calls) == 1
    # A parameter change only updates the running strategy in place.
    engine = h.engine
    found["recorder"] = settings_of("recorder", budget=5)
    await h.on_cycle()
    assert h.engine is engine and engine.strategies[0].settings.budget_krw == 5  # type: ignore[union-attr]
    await h.on_stop()


async def test_an_engine_that_cannot_start_is_retried_every_cycle(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    use(monkeypatch, Recorder)
    calls = {"n": 0}

    def failing() -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database not there yet")
        return {"recorder": settings_of("recorder")}

    monkeypatch.setattr(feeds, "active_settings", failing)
    h = handler(setup)
    await h.on_start(h.ctx)
    assert h.engine is None and h.stats.errors == 1
    assert (await asyncio.to_thread(status.engine_health))["running"] is False
    assert setup.news  # the other sources are connected all the same
    await h.on_cycle()
    assert h.engine is not None
    assert (await asyncio.to_thread(status.engine_health))["running"] is True
    await h.on_stop()


# --------------------------------------------------------------------------- the minutes before a first tick
def chart(code: str, *rows: tuple[str, int, int, int, int, int]) -> list[Any]:
    """ka10080 rows as the broker returns them (newest first): (bar end, open, high, low, close, volume)."""
    from apps.broker.contract import MinuteBar as ChartBar

    bars = [ChartBar(code, at(end), o, h, low, c, v) for end, o, h, low, c, v in rows]
    return sorted(bars, key=lambda b: b.at, reverse=True)


def chart_calls(h: StrategyEngineHandler) -> list[str]:
    return [args[0] for name, args in h.ctx.broker.calls if name == "minute_bars"]  # type: ignore[attr-defined]


async def test_a_code_first_ticking_after_the_open_gets_the_minutes_before_from_the_chart(  # type: ignore[no-untyped-def]
    setup, monkeypatch
) -> None:
    """Watched from the 09:01 scan, its ticks arrive from 09:09:30 only (at speed 60 a subscription a few
    wall seconds late): the chart's 09:01–09:09 bars come first, so the opening range and VWAP are the
    session's, not those of the minutes after the subscription."""
    use(monkeypatch, Recorder)
    monkeypatch.setattr(feeds, "latest_candidates", lambda: [candidate(CODE, 1)])
    monkeypatch.setattr(feeds, "latest_scan_meta", lambda: (1, at("09:01:00")))
    setup.clock.now = at("09:01:05")
    h = handler(setup)
    rows = [
        (f"09:{m:02d}:00", 70_000, 70_000 + 100 * m, 69_900, 70_000 + 50 * m, 1_000)
        for m in range(1, 10)
    ]
    h.ctx.broker.bars[CODE] = chart(CODE, *rows, ("09:10:00", 1, 1, 1, 1, 1))  # type: ignore[attr-defined]
    await h.on_start(h.ctx)
    await h.on_cycle()
    await settle(h)
    assert chart_calls(h) == []  # watching alone fetches nothing: the ticks are not there yet
    setup.clock.now = at("09:09:40")
    tick(h, 71_000, at("09:09:30"))
    tick(h, 71_100, at("09:09:50"))
    await settle(h)
    assert chart_calls(h) == [CODE]
    state = h.engine.market.state(CODE)  # type: ignore[union-attr]
    assert [b.end_ms for b in state.bars][-1] == int(at("09:09:00").timestamp() * 1000)
    # 09:01 … 09:09 from the chart; 09:10 (partial there) from the ticks
    assert len(state.bars) == 9
    assert state.opening_range(5) == (70_500, 69_900)
    assert state.cum_volume == 9_000 + 20
    assert h.stats.warmed_bars == 9 and h.stats.ticks == 2
    ticks = [e for e in recorder(h).seen if isinstance(e, TickEvent)]
    assert [t.at for t in ticks] == [at("09:09:30"), at("09:09:50")]  # in order, after the bars
    tick(h, 71_200, at("09:10:10"))
    assert chart_calls(h) == [CODE]  # once per code
    await h.on_stop()


async def test_a_first_tick_at_the_open_or_right_after_the_stored_bars_fetches_nothing(  # type: ignore[no-untyped-def]
    setup, monkeypatch
) -> None:
    use(monkeypatch, Recorder)
    h = handler(setup)
    await h.on_start(h.ctx)
    tick(h, 70_000, at("09:00:00"))  # the opening auction's print
    tick(h, 70_100, at("09:01:10"), code="000660")  # the 09:01 bar (09:00–09:01) is missing
    await settle(h)
    assert chart_calls(h) == ["000660"]
    assert h.stats.ticks == 2
    await h.on_stop()


async def test_after_a_reconnect_the_lost_minutes_come_from_the_chart(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    use(monkeypatch, Recorder)
    h = handler(setup)
    h.ctx.broker.bars[CODE] = chart(  # type: ignore[attr-defined]
        CODE, ("09:01:00", 70_000, 70_100, 70_000, 70_100, 10),
        ("09:02:00", 70_100, 70_900, 70_100, 70_800, 500), ("09:03:00", 70_800, 70_800, 70_700, 70_700, 300),
    )  # fmt: skip
    await h.on_start(h.ctx)
    tick(h, 70_000, at("09:00:10"))
    tick(h, 70_100, at("09:00:50"))
    await settle(h)
    assert chart_calls(h) == []
    await h.on_gap("reconnect")  # the socket was down from 09:01 to 09:03
    tick(h, 70_700, at("09:03:20"))
    await settle(h)
    assert chart_calls(h) == [CODE]
    state = h.engine.market.state(CODE)  # type: ignore[union-attr]
    # the tick-built 09:01, then the chart's
    assert [b.high for b in state.bars] == [70_100, 70_900, 70_800]
    await h.on_stop()


async def test_a_restart_settles_the_signal_a_killed_process_left_new(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The process died between the signal's row and its order: the next start marks it `failed` (no
    order, key fired: the entry is not sent late) and pushes it; nothing is left half-made."""
    from apps.strategy import execution, outcome

    from .factories import SignalFactory

    use(monkeypatch, FirstTickBuyer)
    pushed: list[dict[str, Any]] = []
    for module in (execution, outcome):
        monkeypatch.setattr(module, "publish_after_commit", lambda t, d, *a, **k: pushed.append(d))
    row = await sync_to_async(SignalFactory)(
        strategy="first_tick", key=f"first_tick:{CODE}:{DAY}:entry", day=DAY, at=at("09:00:01")
    )
    h = handler(setup)
    await h.on_start(h.ctx)
    await sync_to_async(row.refresh_from_db)()
    assert row.status == SignalStatus.FAILED and row.order_id is None
    assert [d["status"] for d in pushed] == ["failed"]
    tick(h, 70_000, at("09:00:05"))
    await settle(h)
    assert setup.place.calls == [] and h.stats.signals == 0  # the key stays fired
    await h.on_stop()


async def test_an_entry_that_made_no_order_is_dismissed_and_stays_so_after_a_restart(  # type: ignore[no-untyped-def]
    setup, monkeypatch
) -> None:
    """The gate is closed: the entry is stored `gated`, no order; the engine is told (no exit of a
    position it never had), and a restart's rebuild tells the new engine the same."""
    use(monkeypatch, FirstTickBuyer)
    await sync_to_async(RuntimeFlag.objects.update_or_create)(
        key="trading-enabled", defaults={"enabled": False}
    )
    first = handler(setup)
    await first.on_start(first.ctx)
    tick(first, 70_100, at("09:00:01"))
    await settle(first)
    row = await sync_to_async(SignalRow.objects.get)()
    assert row.status == SignalStatus.GATED and row.order_id is None and setup.place.calls == []
    assert row.key in first.engine.dismissed  # type: ignore[union-attr]
    await first.on_stop()
    setup.clock.now = at("09:00:30")
    second = handler(setup)
    await second.on_start(second.ctx)
    assert row.key in second.engine.fired and row.key in second.engine.dismissed  # type: ignore[union-attr]
    await second.on_stop()
