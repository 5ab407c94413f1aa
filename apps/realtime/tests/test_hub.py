"""The hub's dispatcher, subscriptions, gaps and shutdown, against the in-memory broker (one event loop,
the test's)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import BrokerUnavailable, InvalidRequest, ViEvent
from apps.broker.kiwoom.events import make_condition_event, make_tick, make_vi_event
from apps.core.models import SystemStatus
from apps.realtime.handlers import Handler, Wants
from apps.realtime.hub import Hub
from apps.realtime.tests.handlers import Blocked, Raiser, Recorder, Sleeper
from krx import KST

pytestmark = pytest.mark.django_db(transaction=True)

AT = dt.datetime(2025, 2, 4, 9, 1, tzinfo=KST)


def tick(code: str = "005930", price: int = 70_000) -> Any:
    return make_tick(code, price, 10, AT)


def hub_with(broker: MemoryBroker, **handlers: Handler) -> Hub:
    def factory(handler: Handler) -> Any:
        return lambda ctx: handler

    return Hub(
        broker,
        handlers={name: factory(h) for name, h in handlers.items()},
        resync_seconds=60,
        heartbeat_seconds=60,
    )


async def settle(hub: Hub, *names: str) -> None:
    await asyncio.wait_for(
        asyncio.gather(*(s.queue.join() for s in hub.slots if not names or s.name in names)), 10
    )


async def cycle(hub: Hub) -> None:
    """One hub cycle, and its handlers' housekeeping finished."""
    await hub.cycle()
    await asyncio.wait_for(
        asyncio.gather(*(s.housekeeping for s in hub.slots if s.housekeeping is not None)), 10
    )


async def test_events_go_to_the_handlers_that_want_them() -> None:
    broker = MemoryBroker()
    samsung, hynix = (
        Recorder(frozenset({"005930"})),
        Recorder(frozenset({"000660"}), frozenset({"1"})),
    )
    hub = hub_with(broker, samsung=samsung, hynix=hynix)
    assert await hub.start()
    try:
        assert samsung.started and hynix.started
        await cycle(hub)
        feed = hub.feed
        assert feed is not None and feed.ticks == {"005930", "000660"}  # type: ignore[attr-defined]
        for event in (
            tick("005930"),
            tick("000660"),
            tick("035720"),
            make_condition_event("1", "005930", True, AT),
        ):
            hub.dispatch(event)
        await settle(hub)
        assert [e.code for e in samsung.got] == ["005930"]
        assert [type(e).__name__.removeprefix("Kiwoom") for e in hynix.got] == [
            "Tick",
            "ConditionEvent",
        ]
        assert hynix.got[0].code == "000660" and hynix.got[0].price == 70_000
        # A code nobody wants any more is unsubscribed.
        hynix.codes = frozenset()
        await cycle(hub)
        assert feed.ticks == {"005930"}  # type: ignore[attr-defined]
    finally:
        await hub.shutdown()


async def test_a_raising_handler_is_logged_counted_and_keeps_receiving(caplog) -> None:
    broker = MemoryBroker()
    good, bad = Recorder(), Raiser()
    hub = hub_with(broker, good=good, bad=bad)
    assert await hub.start()
    try:
        await cycle(hub)  # bad's on_cycle raises too: counted, the cycle goes on
        for i in range(5):
            hub.dispatch(tick(price=70_000 + i))
        await settle(hub)
        assert len(good.got) == len(bad.got) == 5
        figures = hub.details()["handlers"]
        assert figures["bad"]["errors"] == 6 and figures["bad"]["handled"] == 5
        assert figures["good"]["errors"] == 0
        assert "handler bug" in caplog.text
    finally:
        await hub.shutdown()


async def test_a_stuck_handler_delays_nobody_and_its_full_queue_drops_for_it_alone() -> None:
    class Tiny(Blocked):
        queue_size = 3

    broker = MemoryBroker()
    fast, stuck = Recorder(), Tiny()
    hub = hub_with(broker, fast=fast, stuck=stuck)
    assert await hub.start()
    try:
        await cycle(hub)
        slot = next(s for s in hub.slots if s.name == "stuck")
        hub.dispatch(tick(price=70_000))
        for _ in range(100):  # until the stuck handler has taken its first event and hangs on it
            if not slot.queue.qsize():
                break
            await asyncio.sleep(0)
        for i in range(1, 10):
            hub.dispatch(tick(price=70_000 + i))  # returns at once: it only queues
        await settle(hub, "fast")
        assert [e.price for e in fast.got] == [70_000 + i for i in range(10)]
        assert stuck.got == [] and slot.received == 4 and slot.dropped == 6  # 1 taken + 3 queued

        # The next cycle tells it that it missed events; the heartbeat shows the drops.
        await cycle(hub)
        assert stuck.gaps == ["dropped"] and fast.gaps == []
        await hub._heartbeat()
        status = await SystemStatus.objects.aget(component="realtime")
        assert status.status == "ok" and "6 event(s) dropped" in status.message
        assert status.details["handlers"]["stuck"]["dropped"] == 6
        await cycle(hub)
        assert stuck.gaps == ["dropped"]  # once per overflow, not every cycle

        stuck.release.set()
        await settle(hub, "stuck")
        assert [e.price for e in stuck.got] == [70_000, 70_001, 70_002, 70_003]
    finally:
        await hub.shutdown()


async def test_a_stuck_housekeeping_hook_holds_up_neither_the_hub_nor_the_others() -> None:
    class Counting(Recorder):
        cycles = 0

        async def on_cycle(self) -> None:
            self.cycles += 1

    class StuckCycle(Blocked):
        async def on_cycle(self) -> None:
            await self.release.wait()

    broker = MemoryBroker()
    other, stuck = Counting(), StuckCycle()
    hub = hub_with(broker, other=other, stuck=stuck)
    assert await hub.start()
    try:
        for _ in range(3):
            await hub.cycle()  # returns although stuck's on_cycle never does
            await asyncio.sleep(0)
        assert other.cycles == 3
        assert hub.details()["handlers"]["stuck"]["busy_cycles"] == 2
        stuck.release.set()
        await asyncio.wait_for(hub.idle(), 10)
    finally:
        await hub.shutdown()


async def test_shutdown_drains_every_queue_before_on_stop() -> None:
    broker = MemoryBroker()
    slow = Sleeper(delay=0.01)
    hub = hub_with(broker, slow=slow)
    assert await hub.start()
    await cycle(hub)
    for _ in range(5):
        hub.dispatch(tick())
    await hub.shutdown()
    assert slow.stopped_with == 5
    assert hub.feed is None
    status = await SystemStatus.objects.aget(component="realtime")
    assert (status.status, status.message) == ("down", "stopped")


async def test_a_reconnect_is_a_gap_for_every_handler() -> None:
    broker = MemoryBroker()
    one, two = Recorder(), Recorder()
    hub = hub_with(broker, one=one, two=two)
    assert await hub.start()
    try:
        await cycle(hub)
        assert one.gaps == []
        assert hub.feed is not None
        await hub.feed.start()  # the in-memory feed counts a second session
        await cycle(hub)
        assert one.gaps == two.gaps == ["reconnect"]
        await cycle(hub)
        assert one.gaps == ["reconnect"]
    finally:
        await hub.shutdown()


async def test_a_condition_dropped_by_the_socket_is_subscribed_again() -> None:
    broker = MemoryBroker()
    broker.add_condition("1", "급등주", ["005930"])
    watcher = Recorder(codes=frozenset(), seqs=frozenset({"1"}))
    hub = hub_with(broker, watcher=watcher)
    assert await hub.start()
    try:
        await cycle(hub)
        feed = hub.feed
        assert feed is not None and feed.subscribed_conditions() == frozenset({"1"})
        assert [(seq, [h.code for h in hits]) for seq, hits in watcher.subscribed] == [
            ("1", ["005930"])
        ]
        # The socket came back and the broker refused to restore it.
        feed.realtime_conditions.discard("1")  # type: ignore[attr-defined]
        await cycle(hub)
        assert feed.subscribed_conditions() == frozenset({"1"}) and hub.conditions == {"1"}
        assert len(watcher.subscribed) == 2
        # Nobody wants it any more: unsubscribed.
        watcher.seqs = frozenset()
        await cycle(hub)
        assert feed.subscribed_conditions() == frozenset() and hub.conditions == set()
    finally:
        await hub.shutdown()


async def test_a_condition_not_subscribed_is_health_degraded_and_a_lost_reply_is_asked_again_next_cycle() -> (
    None
):
    """A realtime condition the broker did not take is not heard: health says so (degraded, not ok). A
    reply that did not come (or a socket that dropped) is asked again at the next cycle, not a minute
    later (a realtime condition unwatched that long loses its entries); a refusal waits the minute."""
    broker = MemoryBroker()
    broker.add_condition("1", "급등주", ["005930"])
    broker.add_condition("2", "거래대금", ["000660"])
    watcher = Recorder(codes=frozenset(), seqs=frozenset({"1", "2"}))
    hub = hub_with(broker, watcher=watcher)
    assert await hub.start()
    feed = hub.feed
    assert feed is not None
    real = feed.subscribe_condition
    failures = {"1": BrokerUnavailable("no CNSRREQ reply"), "2": InvalidRequest("refused", "1")}

    async def flaky(seq: str) -> Any:
        if seq in failures:
            raise failures.pop(seq)
        return await real(seq)

    feed.subscribe_condition = flaky  # type: ignore[method-assign]
    try:
        await cycle(hub)
        assert hub.conditions == set() and set(hub.unsubscribed) == {"1", "2"}
        await hub._heartbeat()
        row = await SystemStatus.objects.aget(component="realtime")
        assert row.status == "degraded", row.message
        assert "not subscribed: 1 (no CNSRREQ reply), 2 ([1] refused)" in row.message
        assert row.details["not_subscribed"] == {"1": "no CNSRREQ reply", "2": "[1] refused"}
        await cycle(hub)  # the lost reply is asked again; the refusal waits its minute
        assert hub.conditions == {"1"} and set(hub.unsubscribed) == {"2"}
        assert [seq for seq, _ in watcher.subscribed] == ["1"]
        hub._retry_after["2"] = 0.0  # the minute has passed
        await cycle(hub)
        assert hub.conditions == {"1", "2"} and hub.unsubscribed == {}
        await hub._heartbeat()
        row = await SystemStatus.objects.aget(component="realtime")
        assert row.status == "ok" and "not subscribed" not in row.message
        # Not wanted any more while refused: not reported either.
        failures["1"] = InvalidRequest("refused again", "1")
        feed.realtime_conditions.discard("1")  # type: ignore[attr-defined]
        await cycle(hub)
        assert set(hub.unsubscribed) == {"1"}
        watcher.seqs = frozenset({"2"})
        await cycle(hub)
        assert hub.unsubscribed == {} and hub.conditions == {"2"}
    finally:
        await hub.shutdown()


async def test_a_factory_may_decline_and_the_registry_is_the_default() -> None:
    from apps.realtime.handlers import factories, registered

    # Both apps registered their handlers at startup (AppConfig.ready), without the hub naming them.
    assert {"conditions", "market.bars"} <= set(factories())
    with registered("test.none", lambda ctx: None), registered("test.rec", lambda ctx: Recorder()):
        hub = Hub(MemoryBroker(), options={"tick_codes": [], "account": "acct"})
        names = [s.name for s in hub.slots]
    assert "test.rec" in names and "test.none" not in names
    assert "market.bars" not in names  # no tick codes: the bars handler declined
    assert "test.rec" not in factories()


def test_the_hub_imports_no_app() -> None:
    import ast
    from pathlib import Path

    import apps.realtime.handlers
    import apps.realtime.hub

    for module in (apps.realtime.hub, apps.realtime.handlers):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("apps.")
        }
        allowed = ("apps.broker.", "apps.core.")
        assert all(m.startswith(allowed) for m in imported), imported


async def test_an_account_switch_reconnects_with_the_new_broker_and_resubscribes() -> None:
    old, new = MemoryBroker(), MemoryBroker()
    old.add_condition("1", "급등주", ["005930"])
    new.add_condition("1", "급등주", ["000660"])
    current = [old]
    recorder = Recorder(seqs=frozenset({"1"}))
    hub = Hub(
        handlers={"rec": lambda ctx: recorder},
        resync_seconds=60,
        heartbeat_seconds=60,
        broker_source=lambda: current[0],
    )
    assert hub.broker is old
    assert await hub.start()
    try:
        await cycle(hub)
        first = hub.feed
        assert first is not None and first.ticks == {"005930"} and hub.conditions == {"1"}
        await cycle(hub)
        assert hub.feed is first and recorder.gaps == []  # the same account: nothing changes
        current[0] = new  # the accounts app activated another account
        await cycle(hub)
        second = hub.feed
        assert second is not first and hub.broker is new and hub.ctx.broker is new
        assert first not in old._feeds  # the old socket is closed
        assert second in new._feeds and second.ticks == {"005930"}
        assert second.realtime_conditions == {"1"}  # subscribed again on the new socket
        assert recorder.gaps == ["reconnect"]  # handlers resync against the new account
        assert [seq for seq, _ in recorder.subscribed] == ["1", "1"]
        assert hub.switches == 1
        new.emit(tick("005930"))
        await settle(hub)
        assert recorder.got and recorder.got[-1].code == "005930"
    finally:
        await hub.shutdown()


async def test_an_explicit_broker_is_kept() -> None:
    broker = MemoryBroker()
    hub = hub_with(broker, rec=Recorder())
    assert hub.broker_source is None
    assert await hub.start()
    try:
        await cycle(hub)
        assert hub.broker is broker and hub.switches == 0
    finally:
        await hub.shutdown()


class ViRecorder(Recorder):
    """Takes the VI events of `vi` (and, with `of_ticks`, of every code some handler wants ticks of)."""

    events = (ViEvent,)

    def __init__(self, vi: frozenset[str] = frozenset(), of_ticks: bool = False) -> None:
        super().__init__(codes=frozenset())
        self.vi = vi
        self.of_ticks = of_ticks

    async def wants(self) -> Wants:
        return Wants(vi=self.vi, vi_of_ticks=self.of_ticks)


async def test_vi_events_go_to_the_handlers_that_want_their_codes() -> None:
    broker = MemoryBroker()
    ticks = Recorder(frozenset({"035720"}))
    named = ViRecorder(frozenset({"005930"}))
    watching = ViRecorder(frozenset({"000660"}), of_ticks=True)
    hub = hub_with(broker, ticks=ticks, named=named, watching=watching)
    assert await hub.start()
    try:
        await cycle(hub)
        feed = hub.feed
        assert feed is not None
        # The union: the named codes, plus the tick codes for the `vi_of_ticks` handler.
        assert feed.vi == {"005930", "000660", "035720"}  # type: ignore[attr-defined]
        assert hub.vi_codes == frozenset({"005930", "000660", "035720"})
        for code in ("005930", "000660", "035720", "999999"):
            hub.dispatch(make_vi_event(code, True, AT))
        hub.dispatch(make_vi_event("005930", False, AT))
        await settle(hub)
        assert [(e.code, e.active) for e in named.got] == [("005930", True), ("005930", False)]
        assert sorted(e.code for e in watching.got) == ["000660", "035720"]
        assert ticks.got == []  # it takes no VI events
        # Nobody wants a code any more: unsubscribed; the others stay.
        named.vi = frozenset()
        ticks.codes = frozenset()
        await cycle(hub)
        assert feed.vi == {"000660"}  # type: ignore[attr-defined]
        # A new session (reconnect) keeps the hub's subscriptions (the feed restores them).
        await feed.start()
        await cycle(hub)
        assert hub.vi_codes == frozenset({"000660"}) and watching.gaps == ["reconnect"]
        hub.dispatch(make_vi_event("000660", False, AT))
        await settle(hub)
        assert watching.got[-1].code == "000660" and watching.got[-1].active is False
    finally:
        await hub.shutdown()
