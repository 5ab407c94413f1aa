"""The WebSocket client against the simulator over real sockets: LOGIN, PING, REG/REMOVE, typed
events, condition search, dropped sockets with full resubscription, R10001 takeovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from apps.broker.contract import (
    BalanceEvent,
    ConditionEvent,
    OrderEvent,
    OrderStatus,
    OrderType,
    Side,
    Tick,
)
from apps.broker.kiwoom.errors import InvalidRequest
from apps.broker.kiwoom.rest import KiwoomRestClient
from apps.broker.kiwoom.ws import KiwoomWebSocket, State, WsOptions
from apps.broker.simulator import dto as sim_dto
from apps.broker.simulator.testing import SimHandle
from apps.broker.simulator.tests.protocol_fake import START

from .client_support import cleanup_prefix, client_config, fake_simulator

FAST = WsOptions(request_timeout=5.0, reconnect_base=0.02, reconnect_cap=0.2, takeover_backoff=30.0)


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle]:
    async for handle in fake_simulator(ping_interval_s=3600):
        yield handle


@pytest.fixture
async def rest(sim: SimHandle) -> AsyncIterator[KiwoomRestClient]:
    cfg = client_config(sim)
    async with KiwoomRestClient(cfg) as c:
        yield c
    await cleanup_prefix(cfg.key_prefix)


def make_ws(sim: SimHandle, rest: KiwoomRestClient) -> KiwoomWebSocket:
    return KiwoomWebSocket(sim.ws_url, rest.tokens.get, rest.tokens.invalidate, options=FAST)


async def eventually(pred: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def push(sim: SimHandle, *events: object) -> None:
    sim.exchange.pending.extend(events)
    await sim.advance(seconds=1)


async def test_ticks_survive_a_dropped_socket(sim: SimHandle, rest: KiwoomRestClient) -> None:
    async with make_ws(sim, rest) as ws:
        await ws.subscribe(["005930"], ["0B"], group="1")
        await ws.subscribe(["000660"], ["0B"], group="2")
        await ws.unsubscribe(group="2")
        await push(
            sim, sim.exchange.tick("005930", 82, sim_dto.Side.BUY), sim.exchange.tick("000660")
        )
        tick = await ws.next_event()
        assert isinstance(tick, Tick)
        assert (tick.code, tick.price, tick.quantity, tick.aggressor) == (
            "005930",
            75000,
            82,
            Side.BUY,
        )
        assert tick.at is not None and tick.at.tzinfo is not None
        assert tick.at.time() == START.time()  # the fake stamps ticks at its start time

        assert sim.faults.drop_websockets() == 1
        await eventually(lambda: ws.connections == 2 and ws.state is State.READY)
        await push(sim, sim.exchange.tick("000660"), sim.exchange.tick("005930", 5))
        again = await ws.next_event()
        assert isinstance(again, Tick) and again.code == "005930" and again.quantity == 5
        assert ws.subscriptions == {"1": frozenset({("005930", "0B")})}


async def test_order_and_balance_events(sim: SimHandle, rest: KiwoomRestClient) -> None:
    async with make_ws(sim, rest) as ws:
        await ws.subscribe_account()
        ack = await rest.place_order(Side.BUY, "005930", 10, OrderType.LIMIT, 75000)
        await sim.advance(seconds=1)
        accepted = await ws.next_event()
        assert isinstance(accepted, OrderEvent)
        assert (accepted.order_no, accepted.status, accepted.side) == (
            ack.order_no,
            OrderStatus.ACCEPTED,
            Side.BUY,
        )
        assert (accepted.quantity, accepted.price, accepted.remaining) == (10, 75000, 10)
        assert accepted.account == sim.account
        sim.exchange.fill(ack.order_no, 4, 75_000)
        balance = sim_dto.BalanceEvent(
            account=sim.account, time=sim.now(), code="005930", name="삼성전자", qty=4,
            avg_price=75_000, cost=300_000, orderable_qty=4, today_net_buy_qty=4,
            side=sim_dto.Side.BUY, today_realized_pnl=0,
            realized_pnl_rate_pct=sim.exchange.quote("005930").change_rate_pct,
            price=75_000, best_ask=75_100, best_bid=75_000, base_price=74_900,
            deposit=99_700_000, orderable_cash=99_000_000,
        )  # fmt: skip
        await push(sim, balance)
        filled = await ws.next_event()
        assert isinstance(filled, OrderEvent) and filled.status is OrderStatus.PARTIALLY_FILLED
        assert filled.remaining == 6 and filled.unit_fill_quantity == 4
        position = await ws.next_event()
        assert isinstance(position, BalanceEvent)
        assert (position.code, position.quantity, position.average_price) == ("005930", 4, 75000)


async def test_condition_search_and_realtime_restore(
    sim: SimHandle, rest: KiwoomRestClient
) -> None:
    sim.server.config.condition_page_size = 2
    async with make_ws(sim, rest) as ws:
        conds = await ws.conditions()
        assert [(c.seq, c.name) for c in conds] == [("0", "거래대금 상위"), ("1", "급등")]
        hits = await ws.condition_search("0")  # three hits over two body-paged replies
        assert [h.code for h in hits] == ["000660", "005930", "035720"]
        assert hits[1].price == 75000 and hits[1].name == "삼성전자"
        initial = await ws.condition_subscribe("1")
        assert [h.code for h in initial] == ["005930"]
        now = sim.exchange.now()
        await push(sim, sim_dto.ConditionEvent("1", "000660", "I", now))
        entry = await ws.next_event()
        assert isinstance(entry, ConditionEvent)
        assert (entry.seq, entry.code, entry.entered) == ("1", "000660", True)

        sim.faults.drop_websockets()
        await eventually(lambda: ws.connections == 2 and ws.state is State.READY)
        await push(sim, sim_dto.ConditionEvent("1", "005930", "D", sim.exchange.now()))
        exit_ = await ws.next_event()
        assert isinstance(exit_, ConditionEvent) and not exit_.entered and exit_.code == "005930"

        await ws.condition_unsubscribe("1")
        assert ws.realtime_conditions == frozenset()
        await push(sim, sim_dto.ConditionEvent("1", "035720", "I", sim.exchange.now()))
        with pytest.raises(TimeoutError):
            await ws.next_event(within=0.3)
        with pytest.raises(InvalidRequest):
            await ws.condition_search("77")


async def test_ping_is_echoed() -> None:
    async for sim in fake_simulator(ping_interval_s=0.1, ping_timeout_s=0.5):
        cfg = client_config(sim)
        async with KiwoomRestClient(cfg) as rest, make_ws(sim, rest) as ws:
            await ws.subscribe(["005930"], ["0B"])
            await asyncio.sleep(1.0)  # many PING rounds; an unanswered one would cut the session
            assert ws.connections == 1 and ws.state is State.READY
            await push(sim, sim.exchange.tick("005930"))
            assert isinstance(await ws.next_event(), Tick)
        await cleanup_prefix(cfg.key_prefix)


async def test_takeover_does_not_start_a_reconnect_storm(
    sim: SimHandle, rest: KiwoomRestClient
) -> None:
    first = make_ws(sim, rest)
    await first.start()
    await first.wait_ready()
    async with make_ws(sim, rest) as second:
        await eventually(lambda: first.state is State.SUPERSEDED)
        await second.subscribe(["005930"], ["0B"])
        await asyncio.sleep(0.5)
        assert first.connections == 1 and first.takeovers == 1  # it stays down, backing off
        assert second.state is State.READY and second.connections == 1
        await push(sim, sim.exchange.tick("005930"))
        assert isinstance(await second.next_event(), Tick)
    await first.close()


async def test_login_with_a_revoked_token_reissues(sim: SimHandle, rest: KiwoomRestClient) -> None:
    await rest.quote("005930")  # a token is now stored for every process
    sim.faults.invalidate_tokens()
    async with make_ws(sim, rest) as ws:
        assert ws.connections == 1
        assert rest.tokens.issued_count == 2
        await ws.subscribe(["005930"], ["0B"])
        await push(sim, sim.exchange.tick("005930"))
        assert isinstance(await ws.next_event(), Tick)


async def test_restore_survives_a_deleted_condition_and_handler_bugs(
    sim: SimHandle, rest: KiwoomRestClient
) -> None:
    seen: list[object] = []

    def handler(event: object) -> None:
        seen.append(event)
        if len(seen) == 1:
            raise RuntimeError("consumer bug")

    ws = KiwoomWebSocket(
        sim.ws_url, rest.tokens.get, rest.tokens.invalidate, on_event=handler, options=FAST
    )
    async with ws:
        await ws.subscribe(["005930"], ["0B"])
        await ws.condition_subscribe("1")
        await push(sim, sim.exchange.tick("005930"), sim.exchange.tick("005930"))
        await eventually(lambda: len(seen) == 2)
        assert ws.connections == 1  # the handler's exception did not cost the session

        # After the reconnect the server refuses the realtime condition (here: its cap is 0).
        sim.server.config.max_realtime_conditions = 0
        sim.faults.drop_websockets()
        await eventually(lambda: ws.connections == 2 and ws.state is State.READY)
        assert ws.realtime_conditions == frozenset()
        await push(sim, sim.exchange.tick("005930"))
        await eventually(lambda: len(seen) == 3)
        await asyncio.sleep(0.3)
        assert ws.connections == 2


async def test_silent_socket_is_replaced(sim: SimHandle, rest: KiwoomRestClient) -> None:
    # The fixture's server never PINGs, so a short idle timeout fires on a healthy-looking socket.
    options = WsOptions(
        request_timeout=5.0, reconnect_base=0.02, reconnect_cap=0.2, idle_timeout=0.3
    )
    ws = KiwoomWebSocket(sim.ws_url, rest.tokens.get, rest.tokens.invalidate, options=options)
    async with ws:
        await ws.subscribe(["005930"], ["0B"])
        await eventually(lambda: ws.connections >= 2 and ws.state is State.READY)
        assert ws.subscriptions == {"1": frozenset({("005930", "0B")})}


async def test_condition_searches_take_a_rate_limit_slot_per_request(
    sim: SimHandle, rest: KiwoomRestClient
) -> None:
    sim.server.config.condition_page_size = 2
    slots: list[str] = []

    async def throttle() -> None:
        slots.append("slot")

    ws = KiwoomWebSocket(
        sim.ws_url, rest.tokens.get, rest.tokens.invalidate, options=FAST, throttle=throttle
    )
    async with ws:
        await ws.conditions()  # CNSRLST
        assert len(slots) == 1
        await ws.condition_search("0")  # three hits: two body-paged CNSRREQ replies
        assert len(slots) == 3
        await ws.condition_subscribe("1")  # CNSRREQ search_type 1
        assert len(slots) == 4


async def test_frames_sent_during_an_orders_stretch_are_read_after_it_in_order(
    sim: SimHandle, rest: KiwoomRestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`apps.broker.feedhold`: while an order's stretch holds the feed, the frames the server sends wait
    in the socket — none dispatched — and are all dispatched after it, in the order sent."""
    from apps.broker import feedhold

    monkeypatch.setattr(feedhold, "MAX_HOLD_SECONDS", 5.0)
    seen: list[int] = []
    ws = KiwoomWebSocket(
        sim.ws_url,
        rest.tokens.get,
        rest.tokens.invalidate,
        on_event=lambda e: seen.append(e.quantity) if isinstance(e, Tick) else None,
        options=FAST,
    )
    async with ws:
        await ws.subscribe(["005930"], ["0B"])
        with feedhold.stretch():
            await push(sim, *(sim.exchange.tick("005930", q) for q in (11, 12, 13, 14, 15)))
            await asyncio.sleep(0.05)
            assert seen == []  # held: nothing read
        await eventually(lambda: len(seen) == 5)
        assert seen == [11, 12, 13, 14, 15]
