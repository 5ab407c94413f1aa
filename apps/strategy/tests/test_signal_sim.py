"""Signal → order against the simulator over real sockets: the real hub with the trades and strategy
handlers, a test strategy that buys on the first tick: exactly one order reaches the exchange however
many ticks follow, the Signal is accepted with its order, and the order carries the signal as its cause;
with the trader's switch off the signal is gated and nothing is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.conditions.tests.live_support import at, realtime_hub, simulated_broker, wait_until
from apps.core.models import RuntimeFlag
from apps.risk.testing import permissive_config
from apps.strategy import feeds
from apps.strategy.engine.events import Candidate
from apps.strategy.models import Signal as SignalRow
from apps.strategy.models import SignalStatus
from apps.strategy.realtime_handlers import StrategyEngineHandler
from apps.trades.models import Cause, Order, OrderStatus
from apps.trades.realtime_handlers import TradesHandler

from .support import FirstTickBuyer, engine_builder, settings_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CODE = "005930"
HANDLERS = {"trades": TradesHandler, "strategy.engine": StrategyEngineHandler}


@pytest.fixture
def first_tick_engine(monkeypatch):  # type: ignore[no-untyped-def]
    found = {"first_tick": settings_of("first_tick", 2_000_000)}
    monkeypatch.setattr(feeds, "active_settings", lambda: found)
    monkeypatch.setattr(feeds, "build_engine", engine_builder(FirstTickBuyer))
    candidate = Candidate(CODE, "삼성전자", 1, 10**11, Decimal(2), Decimal(1), None, 80)
    monkeypatch.setattr(feeds, "latest_candidates", lambda: [candidate])
    monkeypatch.setattr(feeds, "latest_scan_meta", lambda: None)
    monkeypatch.setattr(feeds, "news_subscribe", lambda cb: lambda: None)
    permissive_config()


def sim_buys(sim) -> list:  # type: ignore[no-untyped-def]
    return [o for o in sim.call(sim.exchange.orders, sim.account, CODE) if o.side.value == "buy"]


def test_a_first_tick_signal_becomes_exactly_one_order_at_the_exchange(  # type: ignore[no-untyped-def]
    tmp_path, first_tick_engine
) -> None:
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
    with (
        simulated_broker(tmp_path, start=at("09:05:00"), use_krx_calendar=False) as (sim, broker),
        realtime_hub(broker, handlers=HANDLERS) as rt,
    ):
        engine = rt.hub.handler("strategy.engine")
        assert isinstance(engine, StrategyEngineHandler)
        wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
        for _ in range(3):  # many ticks of the code: one signal, one order
            sim.advance_sync(seconds=20)
        row = wait_until(
            lambda: SignalRow.objects.exclude(status=SignalStatus.NEW).first(), timeout=30
        )
        assert row.status == SignalStatus.ACCEPTED, (row.status, row.risk_reasons)
        order = Order.objects.get(pk=row.order_id)
        wait_until(lambda: Order.objects.get(pk=order.pk).status != OrderStatus.SUBMITTED)
        sim.advance_sync(seconds=20)
        wait_until(lambda: not engine._tasks)
        assert len(sim_buys(sim)) == 1
        assert Order.objects.count() == 1 and SignalRow.objects.count() == 1
        assert order.cause == Cause.SIGNAL and order.cause_ref == str(row.pk)
        assert order.strategy_tag == "first_tick" and order.order_type == "limit"
        assert order.reference_price == row.price
        assert order.price >= row.price and order.quantity == 2_000_000 // order.price
        assert engine.stats.by_status == {"accepted": 1} and engine.stats.errors == 0


def test_with_the_switch_off_the_signal_is_gated_and_nothing_is_sent(  # type: ignore[no-untyped-def]
    tmp_path, first_tick_engine
) -> None:
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": False})
    with (
        simulated_broker(tmp_path, start=at("09:05:00"), use_krx_calendar=False) as (sim, broker),
        realtime_hub(broker, handlers=HANDLERS) as rt,
    ):
        engine = rt.hub.handler("strategy.engine")
        wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
        sim.advance_sync(seconds=20)
        row = wait_until(lambda: SignalRow.objects.first(), timeout=30)
        wait_until(lambda: not engine._tasks)
        row.refresh_from_db()
        assert row.status == SignalStatus.GATED and row.order_id is None
        assert not Order.objects.exists()
        assert sim_buys(sim) == []


def test_a_restarted_realtime_process_does_not_enter_again(tmp_path, first_tick_engine) -> None:  # type: ignore[no-untyped-def]
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
    with simulated_broker(tmp_path, start=at("09:05:00"), use_krx_calendar=False) as (sim, broker):
        with realtime_hub(broker, handlers=HANDLERS) as rt:
            engine = rt.hub.handler("strategy.engine")
            wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
            sim.advance_sync(seconds=20)
            row = wait_until(
                lambda: SignalRow.objects.filter(status=SignalStatus.ACCEPTED).first(), timeout=30
            )
            wait_until(lambda: not engine._tasks)
        # The process is gone (SIGTERM-like stop); a new one starts mid-session.
        with realtime_hub(broker, handlers=HANDLERS) as rt:
            engine = rt.hub.handler("strategy.engine")
            assert isinstance(engine, StrategyEngineHandler)
            assert row.key in engine.engine.fired  # type: ignore[union-attr]
            wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
            before = engine.stats.ticks
            for _ in range(3):
                sim.advance_sync(seconds=20)
            wait_until(lambda: engine.stats.ticks > before, timeout=30)
            wait_until(lambda: not engine._tasks)
            assert engine.stats.signals == 0
        assert len(sim_buys(sim)) == 1
        assert SignalRow.objects.count() == 1 and Order.objects.count() == 1


def test_a_risk_refusal_is_rejected_with_its_reasons_and_nothing_is_sent(  # type: ignore[no-untyped-def]
    tmp_path, first_tick_engine
) -> None:
    from apps.risk.services.config import config_update

    config_update({"max_order_value": 100_000}, user=None, reason="test: small orders only")
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
    with (
        simulated_broker(tmp_path, start=at("09:05:00"), use_krx_calendar=False) as (sim, broker),
        realtime_hub(broker, handlers=HANDLERS) as rt,
    ):
        engine = rt.hub.handler("strategy.engine")
        wait_until(lambda: sim.call(sim.server.hub.wants, "0B", CODE))
        sim.advance_sync(seconds=20)
        row = wait_until(
            lambda: SignalRow.objects.exclude(status=SignalStatus.NEW).first(), timeout=30
        )
        wait_until(lambda: not engine._tasks)
        assert row.status == SignalStatus.REJECTED and row.order_id is None
        assert "order_value" in {r["code"] for r in row.risk_reasons}
        assert not Order.objects.exists()
        assert sim_buys(sim) == []
