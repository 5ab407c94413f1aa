"""The Kiwoom backend through the sync facade, against the simulator in a thread; backend choice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from apps.broker import backends
from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import (
    AmbiguousOutcome,
    Broker,
    InvalidRequest,
    OrderType,
    RankingKind,
    Side,
    Tick,
)
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, simulator_in_thread
from apps.broker.simulator.tests.protocol_fake import START, FakeExchange
from krx.markets import Market

from .client_support import cleanup_prefix, client_config, unique_prefix


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    with simulator_in_thread(FakeExchange(), config=cfg, start=START) as handle:
        yield handle


@pytest.fixture
def broker(sim: SimHandle) -> Iterator[KiwoomBroker]:
    b = KiwoomBroker(client_config(sim))
    yield b
    b.close()
    asyncio.run(cleanup_prefix(b.config.key_prefix))


def test_contract_over_sockets(broker: KiwoomBroker, sim: SimHandle) -> None:
    assert isinstance(broker, Broker)
    assert broker.quote("005930").price == 75_000
    assert broker.order_book("005930").asks
    assert broker.rankings(RankingKind.TRADING_VALUE)
    assert len(broker.minute_bars("005930", max_pages=None)) == 1000
    assert broker.daily_bars("005930", START.date())
    assert broker.instruments(Market.KOSPI)
    assert broker.balance().cash > 0
    assert isinstance(broker.holdings(), list)
    ack = broker.place_order(Side.BUY, "005930", 3, OrderType.LIMIT, 70_000)
    assert [o.order_no for o in broker.open_orders()] == [ack.order_no]
    status = broker.order_status(ack.order_no)
    assert status is not None and status.is_open
    amend = broker.amend_order(ack.order_no, "005930", 0, 71_000)
    assert amend.original_order_no == ack.order_no
    sim.call(sim.exchange.fill, ack.order_no, 3, 70_000)
    assert broker.fills()[0].order_no == ack.order_no
    second = broker.place_order(Side.BUY, "005930", 1, OrderType.LIMIT, 70_000)
    assert broker.cancel_order(second.order_no, "005930").quantity == 1
    assert [c.seq for c in broker.conditions()] == ["0", "1"]
    assert [h.code for h in broker.condition_search("1")] == ["005930"]
    info = broker.token_status()
    assert info.valid and "SIMULATOR-DEMO-APPKEY" not in repr(info)
    assert broker.ensure_token().expires_at == info.expires_at


def test_ambiguous_order_over_sockets(broker: KiwoomBroker, sim: SimHandle) -> None:
    broker.quote("005930")
    sim.faults.set(lost_order_replies=1)
    with pytest.raises(AmbiguousOutcome):
        broker.place_order(Side.BUY, "005930", 1, OrderType.LIMIT, 70_000)
    assert len(sim.call(sim.exchange.orders, sim.account)) == 1


def test_realtime_feed(broker: KiwoomBroker, sim: SimHandle) -> None:
    async def run() -> Tick:
        feed = broker.realtime()
        await feed.start()
        try:
            await feed.subscribe_ticks(["005930"])
            sim.call(sim.exchange.pending.append, sim.exchange.tick("005930"))
            await sim.advance(seconds=1)
            event = await asyncio.wait_for(feed.ws.next_event(), 5)
            assert isinstance(event, Tick)
            return event
        finally:
            await feed.close()

    tick = asyncio.run(run())
    assert tick.at is not None and tick.at.date() == START.date()  # the exchange's day
    assert tick.price == 75_000


def test_get_broker_follows_settings(settings: object, sim: SimHandle) -> None:
    settings.BROKER_BACKEND = "memory"  # type: ignore[attr-defined]
    backends.reset_broker()
    assert isinstance(backends.get_broker(), MemoryBroker)
    assert backends.get_broker() is backends.get_broker()
    settings.BROKER_BACKEND = "kiwoom"  # type: ignore[attr-defined]
    settings.KIWOOM_APP_KEY = sim.app_key  # type: ignore[attr-defined]
    settings.KIWOOM_SECRET_KEY = sim.secret_key  # type: ignore[attr-defined]
    settings.KIWOOM_BASE_URL = sim.base_url  # type: ignore[attr-defined]
    settings.KIWOOM_WS_URL = sim.ws_url  # type: ignore[attr-defined]
    settings.KIWOOM_IS_MOCK = True  # type: ignore[attr-defined]
    backends.reset_broker()
    try:
        broker = backends.get_broker()
        assert isinstance(broker, KiwoomBroker)
        assert broker.config.query_rate == 1.0  # Kiwoom's mock host allows 1 query/s
        assert "SIMULATOR-DEMO" not in repr(broker)
    finally:
        backends.reset_broker()
    with pytest.raises(ValueError, match="unknown BROKER_BACKEND"):
        backends.build_broker("nope")
    assert unique_prefix() != unique_prefix()


def test_terminal_command(settings: object, sim: SimHandle) -> None:
    from io import StringIO

    from django.core.management import call_command

    cfg = client_config(sim)
    for name, value in {
        "BROKER_BACKEND": "kiwoom",
        "KIWOOM_APP_KEY": sim.app_key,
        "KIWOOM_SECRET_KEY": sim.secret_key,
        "KIWOOM_BASE_URL": sim.base_url,
        "KIWOOM_WS_URL": sim.ws_url,
        "KIWOOM_IS_MOCK": False,
        "REDIS_URL": cfg.redis_url,
    }.items():
        setattr(settings, name, value)
    backends.reset_broker()
    try:
        out = StringIO()
        call_command("kiwoom", "token", "--revoke", stdout=out)
        call_command("kiwoom", "token", stdout=out)
        assert "no token stored" in out.getvalue()
        call_command("kiwoom", "token", "--issue", stdout=out)
        assert "token valid" in out.getvalue()
        call_command("kiwoom", "quote", "005930", stdout=out)
        assert "삼성전자" in out.getvalue() and "75,000원" in out.getvalue()
        call_command("kiwoom", "balance", stdout=out)
        call_command("kiwoom", "orders", stdout=out)
        assert "no open orders" in out.getvalue()
        call_command("kiwoom", "conditions", stdout=out)
        assert "급등" in out.getvalue()
        call_command("kiwoom", "token", "--revoke", stdout=out)
        assert sim.app_key not in out.getvalue() and sim.secret_key not in out.getvalue()
    finally:
        backends.reset_broker()


def test_condition_search_relayed_through_the_realtime_process(
    broker: KiwoomBroker, sim: SimHandle
) -> None:
    from apps.broker.kiwoom.sync import LoopThread

    realtime = LoopThread("test-realtime")
    feed = broker.realtime()
    realtime.run(feed.start(), 30)
    try:
        assert [c.seq for c in broker.conditions()] == ["0", "1"]
        assert [h.code for h in broker.condition_search("1")] == ["005930"]
        with pytest.raises(InvalidRequest):
            broker.condition_search("77")
        # The realtime socket was used, never kicked off by a second session.
        assert feed.ws.connections == 1 and feed.ws.takeovers == 0
        assert feed._relay is not None and feed._relay.served == 3
    finally:
        realtime.run(feed.close(), 30)
        realtime.stop()
    # With no socket owner left, the broker opens a short session of its own.
    assert [c.seq for c in broker.conditions()] == ["0", "1"]
