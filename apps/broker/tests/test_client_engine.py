"""The client against the simulator's real matching engine (not the protocol fake), with the
server's own 5 req/s throttle on: orders that really match, paged charts, live ticks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from apps.broker.contract import OrderEvent, OrderStatus, OrderType, RankingKind, Side, Tick
from apps.broker.kiwoom.rest import KiwoomRestClient
from apps.broker.kiwoom.ws import KiwoomWebSocket
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, running_simulator
from krx.markets import Market

from .client_support import cleanup_prefix, client_config
from .test_client_ws import FAST


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle]:
    async with running_simulator(config=ServerConfig(ping_interval_s=3600)) as handle:
        await handle.advance(minutes=20)  # into the continuous session
        yield handle


@pytest.fixture
async def client(sim: SimHandle) -> AsyncIterator[KiwoomRestClient]:
    # The server throttles at 5/s per api-id; the client budget matches it.
    cfg = client_config(sim, rate_query_per_sec=5.0)
    async with KiwoomRestClient(cfg) as c:
        yield c
    await cleanup_prefix(cfg.key_prefix)


async def test_orders_match_on_the_engine(client: KiwoomRestClient, sim: SimHandle) -> None:
    quote = await client.quote("005930")
    assert quote.lower_limit < quote.price < quote.upper_limit
    market = await client.place_order(Side.BUY, "005930", 10, OrderType.MARKET)
    resting = await client.place_order(Side.BUY, "005930", 5, OrderType.LIMIT, quote.lower_limit)
    await sim.advance(seconds=5)
    done = await client.order_status(market.order_no)
    assert done is not None and not done.is_open and done.filled_quantity == 10
    assert done.average_fill_price is not None and done.average_fill_price > 0
    (holding,) = await client.holdings()
    assert (holding.code, holding.quantity) == ("005930", 10)
    fills = await client.fills()
    assert [f.order_no for f in fills] == [market.order_no]
    balance = await client.balance()
    assert balance.total_purchase == holding.purchase_amount
    amend = await client.amend_order(resting.order_no, "005930", 0, quote.lower_limit + 100)
    (open_order,) = await client.open_orders()
    assert (open_order.order_no, open_order.original_order_no) == (amend.order_no, resting.order_no)
    await client.cancel_order(amend.order_no, "005930")
    await sim.advance(seconds=1)
    assert await client.open_orders() == []
    assert client.throttled == 0


async def test_paged_data_under_the_server_throttle(client: KiwoomRestClient) -> None:
    bars = await client.minute_bars("005930", max_pages=3)
    assert len(bars) == 2700
    assert [b.at for b in bars] == sorted((b.at for b in bars), reverse=True)
    days = await client.daily_bars("005930", max_pages=2)
    assert len(days) == 1200 and len({d.day for d in days}) == 1200
    leaders = await client.rankings(RankingKind.TRADING_VALUE, max_pages=None)
    assert [r.rank for r in leaders] == list(range(1, len(leaders) + 1))
    assert leaders[0].value_krw is not None and leaders[0].value_krw >= leaders[-1].value_krw  # type: ignore[operator]
    assert len(await client.instruments(Market.KOSPI)) > 10


async def test_live_ticks_and_order_events(client: KiwoomRestClient, sim: SimHandle) -> None:
    ws = KiwoomWebSocket(sim.ws_url, client.tokens.get, client.tokens.invalidate, options=FAST)
    async with ws:
        await ws.subscribe(["005930"], ["0B"])
        await ws.subscribe_account()
        await sim.advance(seconds=30)
        tick = await ws.next_event()
        assert isinstance(tick, Tick) and tick.code == "005930" and tick.price > 0
        ack = await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
        await sim.advance(seconds=2)
        statuses = []
        for _ in range(200):
            event = await ws.next_event()
            if isinstance(event, OrderEvent) and event.order_no == ack.order_no:
                statuses.append(event.status)
                if event.status is OrderStatus.FILLED:
                    break
        assert statuses[0] is OrderStatus.ACCEPTED and statuses[-1] is OrderStatus.FILLED
