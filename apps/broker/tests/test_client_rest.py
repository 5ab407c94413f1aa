"""The REST client against the simulator over real sockets: every method, paging, throttling,
token invalidation mid-session and orders whose reply never arrives."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from apps.broker.contract import Direction, OrderType, RankingKind, Side
from apps.broker.kiwoom.errors import (
    AmbiguousOutcome,
    AuthExpired,
    AuthFailed,
    BrokerUnavailable,
    InvalidRequest,
    OrderRejected,
    RateLimited,
)
from apps.broker.kiwoom.rest import KiwoomRestClient
from apps.broker.simulator.testing import SimHandle
from krx import KST
from krx.markets import Market

from .client_support import cleanup_prefix, client_config, fake_simulator


@pytest.fixture
async def sim() -> AsyncIterator[SimHandle]:
    async for handle in fake_simulator():
        yield handle


@pytest.fixture
async def client(sim: SimHandle) -> AsyncIterator[KiwoomRestClient]:
    cfg = client_config(sim)
    async with KiwoomRestClient(cfg) as c:
        yield c
    await cleanup_prefix(cfg.key_prefix)


def exchange_orders(sim: SimHandle) -> list[object]:
    return sim.exchange.orders(sim.account)


async def test_market_data(client: KiwoomRestClient, sim: SimHandle) -> None:
    assert await client.account_number() == sim.account
    q = await client.quote("A005930")
    assert (q.code, q.name, q.price, q.direction) == ("005930", "삼성전자", 75000, Direction.UP)
    assert q.upper_limit > q.price > q.lower_limit > 0
    book = await client.order_book("005930")
    assert book.asks[0].price > book.bids[0].price
    assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
    assert book.at is not None and book.at.date() == sim.now().date()
    instruments = await client.instruments(Market.KOSPI)
    assert {i.code for i in instruments} >= {"005930", "000660"}
    for kind in RankingKind:
        rows = await client.rankings(kind)
        assert rows, kind
        assert all(r.price > 0 and len(r.code) == 6 for r in rows)


async def test_charts_page_to_exhaustion(client: KiwoomRestClient, sim: SimHandle) -> None:
    one_page = await client.minute_bars("005930")
    bars = await client.minute_bars("005930", max_pages=None)
    assert len(one_page) == 900  # Kiwoom's page size
    assert len(bars) == sim.exchange.n_minute_bars
    stamps = [b.at for b in bars]
    assert stamps == sorted(stamps, reverse=True)  # newest first, no page overlap
    assert len(set(stamps)) == len(stamps)
    assert all(b.at.tzinfo is not None and b.low <= b.close <= b.high for b in bars)
    days = await client.daily_bars("005930", sim.now().astimezone(KST).date(), max_pages=None)
    assert len(days) == sim.exchange.n_daily_bars
    assert len({d.day for d in days}) == len(days)
    assert days[0].value_krw % 1_000_000 == 0


async def test_account_and_orders(client: KiwoomRestClient, sim: SimHandle) -> None:
    balance = await client.balance()
    assert balance.cash > 0 and balance.orderable > 0
    holdings = await client.holdings()
    assert all(h.quantity > 0 and len(h.code) == 6 for h in holdings)

    quote = await client.quote("005930")
    ack = await client.place_order(Side.BUY, "005930", 10, OrderType.LIMIT, quote.lower_limit)
    assert len(ack.order_no) == 7
    (open_order,) = await client.open_orders()
    assert (open_order.order_no, open_order.side, open_order.remaining) == (
        ack.order_no,
        Side.BUY,
        10,
    )
    status = await client.order_status(ack.order_no)
    assert status is not None and status.is_open and status.remaining == 10

    sim.exchange.fill(ack.order_no, 4, quote.lower_limit)
    fills = await client.fills("005930")
    assert any(f.order_no == ack.order_no and f.fill_quantity == 4 for f in fills)
    status = await client.order_status(ack.order_no)
    assert status is not None and status.filled_quantity == 4 and status.remaining == 6

    amend = await client.amend_order(ack.order_no, "005930", 0, quote.lower_limit + 100)
    assert amend.original_order_no == ack.order_no and amend.order_no != ack.order_no
    # The protocol fake does not book amends as new orders; cancel the original.
    cancel = await client.cancel_order(ack.order_no, "005930")
    assert cancel.quantity > 0 and cancel.original_order_no == ack.order_no
    assert await client.order_status("9999999") is None


async def test_order_slot_takes_the_slot_once_and_its_call_sends_once(
    client: KiwoomRestClient, sim: SimHandle
) -> None:
    """`order_slot`: the limiter's slot and the token up front, in one round trip (the token read by the
    slot's script: no token read of its own); its call uses them (no second slot)."""
    quote = await client.quote("005930")
    acquired: list[object] = []
    original = client.limiter.acquire
    token_reads: list[object] = []
    original_get = client.tokens.get

    async def counting(priority: object, **kwargs: object) -> object:
        acquired.append(priority)
        return await original(priority, **kwargs)  # type: ignore[arg-type]

    async def get() -> str:
        token_reads.append(1)
        return await original_get()

    client.limiter.acquire = counting  # type: ignore[method-assign]
    client.tokens.get = get  # type: ignore[method-assign]
    place = await client.order_slot()
    assert len(acquired) == 1 and exchange_orders(sim) == []  # nothing sent yet
    assert token_reads == []  # the token came with the slot
    ack = await place(side=Side.BUY, code="005930", quantity=1, price=quote.lower_limit)
    assert len(acquired) == 1 and len(exchange_orders(sim)) == 1 and len(ack.order_no) == 7


async def test_order_rejection_and_bad_input(client: KiwoomRestClient) -> None:
    with pytest.raises(OrderRejected) as exc:
        await client.place_order(Side.BUY, "005930", 10_000_000, OrderType.MARKET)
    assert exc.value.code and exc.value.message
    with pytest.raises(InvalidRequest):
        await client.quote("999999")
    with pytest.raises(InvalidRequest):
        await client.place_order(Side.BUY, "005930", 1, OrderType.LIMIT, None)


async def test_429_burst_is_absorbed_for_reads(client: KiwoomRestClient, sim: SimHandle) -> None:
    sim.faults.set(http_429=3)
    quote = await client.quote("005930")
    assert quote.price == 75000
    assert client.throttled == 3


async def test_429_beyond_retries_raises(client: KiwoomRestClient, sim: SimHandle) -> None:
    sim.faults.set(http_429=10)
    with pytest.raises(RateLimited) as exc:
        await client.quote("005930")
    assert exc.value.code == "1700"
    assert client.throttled == client.config.max_throttle_retries + 1


async def test_429_on_an_order_is_not_retried(client: KiwoomRestClient, sim: SimHandle) -> None:
    sim.faults.set(http_429=1, api_ids=["kt10000"])
    with pytest.raises(RateLimited):
        await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
    assert exchange_orders(sim) == []
    ack = await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
    assert [o.order_no for o in exchange_orders(sim)] == [ack.order_no]


async def test_shared_limiter_keeps_a_burst_under_the_server_limit() -> None:
    # The client bursts at most 2; the server's bucket holds 3, leaving room for arrival jitter.
    async for sim in fake_simulator(rate_limit_per_s=10.0, rate_limit_burst=3):
        cfg = client_config(sim, rate_query_per_sec=10.0)
        clients = [KiwoomRestClient(cfg) for _ in range(3)]
        try:
            import asyncio

            quotes = await asyncio.gather(*(c.quote("005930") for c in clients for _ in range(5)))
            assert len(quotes) == 15
            assert sum(c.throttled for c in clients) == 0
        finally:
            for c in clients:
                await c.aclose()
            await cleanup_prefix(cfg.key_prefix)


async def test_token_invalidated_mid_session(client: KiwoomRestClient, sim: SimHandle) -> None:
    await client.quote("005930")
    assert client.tokens.issued_count == 1
    assert sim.faults.invalidate_tokens() >= 1
    # A read is repeated once with a fresh token.
    assert (await client.quote("005930")).price == 75000
    assert client.tokens.issued_count == 2
    # An order is not repeated; the token is renewed so the caller's next attempt works.
    sim.faults.invalidate_tokens()
    with pytest.raises(AuthExpired) as exc:
        await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
    assert exc.value.code == "8005"
    assert exchange_orders(sim) == []
    ack = await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
    assert [o.order_no for o in exchange_orders(sim)] == [ack.order_no]
    assert client.tokens.issued_count == 3


async def test_token_shared_between_clients(sim: SimHandle) -> None:
    cfg = client_config(sim)
    a, b = KiwoomRestClient(cfg), KiwoomRestClient(cfg)
    try:
        await a.quote("005930")
        await b.quote("005930")
        assert a.tokens.issued_count + b.tokens.issued_count == 1
        info = await b.tokens.info()
        assert info.valid and info.expires_at is not None and info.expires_at.tzinfo is not None
        assert await a.revoke_token()
        await b.quote("005930")  # issues a new one
        assert a.tokens.issued_count + b.tokens.issued_count == 2
    finally:
        await a.aclose()
        await b.aclose()
        await cleanup_prefix(cfg.key_prefix)


@pytest.mark.parametrize("mode", ["close", "hang"])
async def test_lost_order_reply_is_ambiguous(sim: SimHandle, mode: str) -> None:
    cfg = client_config(sim, timeout_seconds=1.0)
    async with KiwoomRestClient(cfg) as client:
        sim.faults.set(lost_order_replies=1, lost_reply_mode=mode)
        with pytest.raises(AmbiguousOutcome):
            await client.place_order(Side.BUY, "005930", 3, OrderType.LIMIT, 70000)
        orders = exchange_orders(sim)
        assert len(orders) == 1  # the exchange took it exactly once; no retry followed
        # Reconciliation finds it.
        (found,) = await client.open_orders("005930")
        assert found.quantity == 3
    await cleanup_prefix(cfg.key_prefix)


async def test_lost_cancel_reply_is_ambiguous(client: KiwoomRestClient, sim: SimHandle) -> None:
    ack = await client.place_order(Side.BUY, "005930", 2, OrderType.LIMIT, 70000)
    sim.faults.set(lost_order_replies=1, api_ids=["kt10003"])
    with pytest.raises(AmbiguousOutcome):
        await client.cancel_order(ack.order_no, "005930")
    assert len(exchange_orders(sim)) == 1  # no retry created anything else


async def test_5xx_on_read_retried_and_on_order_ambiguous(
    client: KiwoomRestClient, sim: SimHandle
) -> None:
    sim.faults.set(http_5xx=1, api_ids=["ka10001"])
    assert (await client.quote("005930")).price == 75000
    sim.faults.set(http_5xx=1, api_ids=["kt10000"])
    with pytest.raises(AmbiguousOutcome):
        await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)


async def test_credentials_never_leak(sim: SimHandle, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    good = client_config(sim)
    bad = replace(good, secret_key="WRONG-SECRET-DO-NOT-LOG")
    async with KiwoomRestClient(bad) as client:
        with pytest.raises(AuthFailed) as exc:
            await client.quote("005930")
        texts = [str(exc.value), repr(exc.value), repr(client), repr(client.config)]
    async with KiwoomRestClient(good) as client:
        await client.quote("005930")
        sim.faults.invalidate_tokens()
        await client.quote("005930")
        stored = await client.tokens.peek()
        assert stored is not None
        texts += [repr(client), repr(client.tokens), repr(stored), repr(await client.tokens.info())]
    texts.append(caplog.text)
    blob = "\n".join(texts)
    for secret in (sim.secret_key, sim.app_key, "WRONG-SECRET-DO-NOT-LOG", stored.token):
        assert secret not in blob
    await cleanup_prefix(good.key_prefix)


async def test_token_refreshed_before_expiry() -> None:
    from datetime import timedelta

    # Tokens that live 4 minutes are always inside the 5-minute refresh margin.
    async for sim in fake_simulator(token_ttl=timedelta(minutes=4)):
        cfg = client_config(sim)
        async with KiwoomRestClient(cfg) as client:
            await client.quote("005930")
            await client.quote("005930")
            assert client.tokens.issued_count == 2
            info = await client.tokens.info()
            assert info.expires_at is not None and not info.valid
        await cleanup_prefix(cfg.key_prefix)


async def test_redis_outage_is_broker_unavailable(sim: SimHandle) -> None:
    cfg = client_config(sim, redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    async with KiwoomRestClient(cfg) as client:
        with pytest.raises(BrokerUnavailable):
            await client.quote("005930")
        with pytest.raises(BrokerUnavailable):
            await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
    assert exchange_orders(sim) == []


async def test_unreachable_host_is_not_sent_for_orders_and_reads(sim: SimHandle) -> None:
    """No connection could be made: the order cannot have reached the host, so it is
    `BrokerUnavailable` (not sent), never `AmbiguousOutcome`; a read is asked once more, then the same."""
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    live = client_config(sim, timeout_seconds=1.0)
    async with KiwoomRestClient(live) as client:
        await client.tokens.get()  # the shared token (Redis): only the TR calls go to the dead host
    cfg = replace(live, base_url=f"http://127.0.0.1:{port}")
    async with KiwoomRestClient(cfg) as client:
        with pytest.raises(BrokerUnavailable, match="not sent"):
            await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
        with pytest.raises(BrokerUnavailable, match="not sent"):
            await client.quote("005930")
    assert exchange_orders(sim) == []
    await cleanup_prefix(cfg.key_prefix)


async def test_dropped_connection_on_an_order_is_ambiguous_and_on_a_read_retried(
    client: KiwoomRestClient, sim: SimHandle
) -> None:
    """The server drops the connection after reading the request (the simulator's `close` mode):
    an order's outcome is unknown (reconcile), a read is asked again and answered."""
    sim.faults.set(lost_order_replies=1, lost_reply_mode="close", api_ids=["ka10001"])
    assert (await client.quote("005930")).price == 75000
    sim.faults.set(lost_order_replies=1, lost_reply_mode="close", api_ids=["kt10000"])
    with pytest.raises(AmbiguousOutcome, match="reply lost"):
        await client.place_order(Side.BUY, "005930", 1, OrderType.MARKET)
    assert len(exchange_orders(sim)) == 1
