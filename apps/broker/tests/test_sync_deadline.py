"""The sync facade's time limits: a call that runs out of time is cancelled, and nothing it would
have sent leaves afterwards (against the simulator, with injected latency); the lazily created
client is shared by racing threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.contract import AmbiguousOutcome, BrokerUnavailable, OrderType, Side
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, simulator_in_thread
from apps.broker.simulator.tests.protocol_fake import START, FakeExchange

from .client_support import cleanup_prefix, client_config


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    with simulator_in_thread(FakeExchange(), config=cfg, start=START) as handle:
        yield handle


def _broker(sim: SimHandle, **overrides: object) -> KiwoomBroker:
    return KiwoomBroker(client_config(sim, **overrides))


@pytest.fixture
def broker(sim: SimHandle) -> Iterator[KiwoomBroker]:
    b = _broker(sim, order_call_timeout=0.5, read_call_timeout=0.5)
    yield b
    b.close()
    asyncio.run(cleanup_prefix(b.config.key_prefix))


def _orders(sim: SimHandle) -> list[object]:
    return list(sim.call(sim.exchange.orders, sim.account))


def test_order_stuck_behind_a_slow_token_is_never_sent(
    broker: KiwoomBroker, sim: SimHandle
) -> None:
    # The first call must issue the token, and the token endpoint answers only after 1.5 s.
    sim.faults.set(latency_ms=1500, api_ids=["au10001"])
    started = time.monotonic()
    with pytest.raises(AmbiguousOutcome, match="ran out of time"):
        broker.place_order(Side.BUY, "005930", 1, OrderType.LIMIT, 70_000)
    told = time.monotonic()
    # Longer than the injected delay: an uncancelled call would have its token by now and send.
    time.sleep(max(0.0, 2.5 - (told - started)))
    assert _orders(sim) == []
    sim.faults.reset()
    # Reconciliation (a read) works and confirms: nothing there.
    assert broker.open_orders() == []
    assert _orders(sim) == []


def test_order_queued_behind_the_rate_limiter_is_never_sent(
    broker: KiwoomBroker, sim: SimHandle
) -> None:
    broker.quote("005930")  # token issued, connection warm
    # Someone got throttled: the shared schedule is pushed back 2 s for everybody.
    broker.client.call(lambda c: c.limiter.penalize(2.0))
    with pytest.raises(AmbiguousOutcome):
        broker.place_order(Side.BUY, "005930", 1, OrderType.LIMIT, 70_000)
    with pytest.raises(AmbiguousOutcome):
        broker.cancel_order("0000001", "005930")
    # The cancelled waiters left the limiter's queue at once.
    assert all(row["waiting"] == 0 for row in broker.limiter_usage())
    time.sleep(2.5)
    assert _orders(sim) == []


def test_read_that_runs_out_of_time_is_unavailable(broker: KiwoomBroker, sim: SimHandle) -> None:
    broker.quote("005930")
    sim.faults.set(latency_ms=1500, api_ids=["ka10001"])
    with pytest.raises(BrokerUnavailable, match="ran out of time") as info:
        broker.quote("005930")
    assert not isinstance(info.value, AmbiguousOutcome)
    sim.faults.reset()
    assert broker.quote("005930").price == 75_000


def test_order_that_reached_the_broker_in_time_is_ambiguous_and_reconcilable(
    broker: KiwoomBroker, sim: SimHandle
) -> None:
    broker.quote("005930")
    # The request leaves in time but its reply is late: it may have been (and here is) taken.
    sim.faults.set(latency_ms=1000, api_ids=["kt10000"])
    with pytest.raises(AmbiguousOutcome):
        broker.place_order(Side.BUY, "005930", 1, OrderType.LIMIT, 70_000)
    time.sleep(1.5)
    sim.faults.reset()
    assert len(broker.open_orders()) == len(_orders(sim)) <= 1


def test_lazy_client_is_shared_by_racing_threads(sim: SimHandle) -> None:
    broker = _broker(sim)
    loops_before = sum(t.name == "kiwoom-client" for t in threading.enumerate())
    barrier = threading.Barrier(16)
    seen: list[int] = []

    def first_call() -> None:
        barrier.wait()
        seen.append(id(broker.client))

    threads = [threading.Thread(target=first_call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(seen) == 16 and len(set(seen)) == 1
        loops = sum(t.name == "kiwoom-client" for t in threading.enumerate())
        assert loops == loops_before + 1
    finally:
        broker.close()
        asyncio.run(cleanup_prefix(broker.config.key_prefix))
