"""VI in progress (변동성완화장치): the `risk.vi` handler's state (memory + Redis), its expiry, the
pre-trade check's provider in and out of the realtime process, the refusal of entries (never of
exits), the liquidation's report, and the state API."""

from __future__ import annotations

import datetime as dt
import sys
import types
from typing import Any

import pytest

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import ViKind
from apps.broker.kiwoom.events import make_vi_event
from apps.realtime.handlers import HubContext
from apps.risk import vi
from apps.risk.services.config import config_update
from apps.risk.vi import ViState
from apps.risk.vi_handler import RiskViHandler
from apps.trades.services import OrderIntent, OrderRefused, fill_apply, order_create
from apps.trades.services.executor import default_account
from apps.trades.tests.factories import OrderFactory, PositionFactory
from krx import KST

CODE = "005930"
AT = dt.datetime(2025, 2, 4, 10, 15, 23, tzinfo=KST)


class Clock:
    def __init__(self, now: dt.datetime = AT) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def handler(clock: Clock) -> RiskViHandler:
    return RiskViHandler(HubContext(MemoryBroker()), exchange_now=clock)


def intent(side: str = "buy", qty: int = 10, price: int = 10_000, code: str = CODE) -> OrderIntent:
    return OrderIntent(
        code=code, side=side, quantity=qty, price=price, order_type="limit", account_no="5000000010"
    )


@pytest.fixture
async def db_thread():  # type: ignore[no-untyped-def]
    """The handler's database calls run in Django's sync thread: close its connection afterwards."""
    yield
    from asgiref.sync import sync_to_async
    from django import db

    await sync_to_async(db.connections.close_all)()


@pytest.fixture
def exchange_at(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The readers' exchange time (`apps.risk.vi._now`)."""
    clock = Clock()
    monkeypatch.setattr(vi, "_now", clock)
    return clock


# ------------------------------------------------------------------------------------------ handler
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_thread")
async def test_the_handler_records_a_start_and_clears_it_on_release(exchange_at: Clock) -> None:
    clock = Clock()
    h = handler(clock)
    await h.on_start(h.ctx)
    try:
        await h.on_event(make_vi_event(CODE, True, AT, kind=ViKind.STATIC, price=82_500))
        assert h.states[CODE] == ViState(CODE, "static", 82_500, AT)
        # Other processes read Redis: the same state, as JSON.
        assert vi.vi_read() == {CODE: ViState(CODE, "static", 82_500, AT)}
        assert vi.vi_active(CODE) and not vi.vi_active("000660")  # this process: the dict
        assert [s.code for s in vi.vi_current()] == [CODE]
        await h.on_event(make_vi_event(CODE, False, AT + dt.timedelta(minutes=2)))
        assert h.states == {} and vi.vi_read() == {}
        assert not vi.vi_active(CODE)
        assert h.health()["vi_started"] == 1 and h.health()["vi_released"] == 1
    finally:
        await h.on_stop()
    assert vi._local is None  # stopped: the process reads Redis again


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_thread")
async def test_a_start_without_its_time_takes_the_exchange_time() -> None:
    clock = Clock(AT + dt.timedelta(seconds=7))
    h = handler(clock)
    await h.on_start(h.ctx)
    try:
        event = make_vi_event(CODE, True, AT)
        event[1]["1223"] = "garbage"
        await h.on_event(event)
        assert h.states[CODE].since == clock.now and h.states[CODE].kind == "dynamic"
    finally:
        await h.on_stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_thread")
async def test_a_start_whose_release_was_lost_expires(settings, exchange_at: Clock) -> None:
    settings.RISK_VI_MAX_SECONDS = 600
    clock = Clock()
    h = handler(clock)
    await h.on_start(h.ctx)
    try:
        await h.on_event(make_vi_event(CODE, True, AT, price=80_000))
        exchange_at.now = clock.now = AT + dt.timedelta(seconds=599)
        assert await h.sweep() == [] and vi.vi_active(CODE)
        # The readers apply the limit themselves, before the handler's next sweep.
        exchange_at.now = AT + dt.timedelta(seconds=600)
        assert not vi.vi_active(CODE)
        clock.now = exchange_at.now
        await h.on_cycle()
        assert h.states == {} and vi.vi_read() == {} and h.health()["vi_expired"] == 1
    finally:
        await h.on_stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_thread")
async def test_a_restarted_handler_reads_the_state_back_and_a_gap_keeps_it(
    exchange_at: Clock,
) -> None:
    vi.vi_write(ViState(CODE, "dynamic", 80_000, AT))
    vi.vi_write(ViState("000660", "static", 200_000, AT - dt.timedelta(hours=1)))  # long over
    h = handler(Clock(AT + dt.timedelta(seconds=30)))
    await h.on_start(h.ctx)
    try:
        assert set(h.states) == {CODE} and set(vi.vi_read()) == {CODE}
        await h.on_gap("reconnect")
        assert set(h.states) == {CODE}
    finally:
        await h.on_stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("db_thread")
async def test_it_wants_the_vi_of_held_ordered_and_candidate_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from asgiref.sync import sync_to_async

    account = await sync_to_async(default_account)()
    await sync_to_async(PositionFactory)(code="005930", quantity=10, account_no=account)
    await sync_to_async(PositionFactory)(code="000001", quantity=0, account_no=account)  # closed
    await sync_to_async(OrderFactory)(code="000660", side="buy", status="accepted")
    await sync_to_async(OrderFactory)(code="000002", side="buy", status="filled")
    scanner = types.ModuleType("apps.strategy.scanner")
    scanner.latest_candidates = lambda: ["035720", types.SimpleNamespace(code="035420"), None]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "apps.strategy.scanner", scanner)
    h = handler(Clock())
    await h.on_start(h.ctx)
    try:
        wants = await h.wants()
        assert wants.vi == {"005930", "000660", "035720", "035420"} and wants.vi_of_ticks
        monkeypatch.delitem(sys.modules, "apps.strategy.scanner")  # no scanner: guarded
        await h.on_cycle()
        assert (await h.wants()).vi == {"005930", "000660"}
    finally:
        await h.on_stop()


# ------------------------------------------------------------------------------------------ readers
@pytest.mark.django_db
def test_other_processes_read_redis_at_most_once_per_interval(
    settings, monkeypatch: pytest.MonkeyPatch, exchange_at: Clock
) -> None:
    vi.vi_write(ViState(CODE, "dynamic", 80_000, AT))
    reads: list[int] = []
    real = vi.vi_read

    def counting() -> dict[str, ViState]:
        reads.append(1)
        return real()

    monkeypatch.setattr(vi, "vi_read", counting)
    settings.RISK_VI_CACHE_SECONDS = 3600  # one interval for the whole test
    assert all(vi.vi_active(CODE) for _ in range(1_000))
    assert not vi.vi_active("000660")
    assert len(reads) == 1
    vi.vi_delete(CODE)
    assert vi.vi_active(CODE)  # the copy stands until the interval is over
    settings.RISK_VI_CACHE_SECONDS = 0
    assert not vi.vi_active(CODE) and len(reads) == 2


@pytest.mark.django_db(transaction=True)
async def test_on_an_event_loop_the_copy_is_refreshed_in_the_background(
    settings, monkeypatch: pytest.MonkeyPatch, exchange_at: Clock
) -> None:
    import asyncio
    import threading

    vi.vi_write(ViState(CODE, "dynamic", 80_000, AT))
    settings.RISK_VI_CACHE_SECONDS = 0
    assert vi.vi_active(CODE)  # the first read: on the caller, there is no copy yet
    vi.vi_delete(CODE)
    gate = threading.Event()
    real = vi.vi_read

    def slow_redis() -> dict[str, ViState]:
        gate.wait(10)
        return real()

    monkeypatch.setattr(vi, "vi_read", slow_redis)
    assert vi.vi_active(CODE)  # the loop did not wait: the last copy answered
    gate.set()
    for _ in range(500):  # the background read lands (bounded wait, no timing asserted)
        if CODE not in vi._cache:
            break
        await asyncio.sleep(0.01)
    assert not vi.vi_active(CODE)


@pytest.mark.django_db
def test_an_unreadable_value_is_skipped_and_redis_down_keeps_the_last_copy(
    settings, monkeypatch: pytest.MonkeyPatch, exchange_at: Clock
) -> None:
    import redis

    vi.redis_client().hset(vi.vi_key(), "000660", "not json")
    vi.vi_write(ViState(CODE, "dynamic", 80_000, AT))
    assert set(vi.vi_read()) == {CODE}
    settings.RISK_VI_CACHE_SECONDS = 0
    assert vi.vi_active(CODE)

    def down() -> dict[str, ViState]:
        raise redis.ConnectionError("down")

    monkeypatch.setattr(vi, "vi_read", down)
    assert vi.vi_active(CODE)  # the last copy
    assert vi.vi_current() == []  # the page and the API: nothing known


def test_nothing_expires_while_the_exchange_time_is_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = ViState(CODE, "dynamic", 80_000, AT)
    assert not state.over(None, 1)
    assert state.over(AT + dt.timedelta(seconds=1), 1)
    monkeypatch.setattr(vi, "_now", lambda: None)
    vi.vi_use_local({CODE: state})
    try:
        assert vi.vi_active(CODE)
    finally:
        vi.vi_use_local(None)


# ------------------------------------------------------------------------------------------ risk
@pytest.mark.django_db
def test_an_entry_on_a_code_in_vi_is_refused_and_an_exit_is_not(
    settings, exchange_at: Clock
) -> None:
    settings.RISK_VI_CACHE_SECONDS = 0  # the copy read by the first order is not kept
    buy, _ = order_create(intent(qty=10))
    fill_apply(buy.pk, cum_quantity=10, cum_amount=100_000)
    vi.vi_write(ViState(CODE, "dynamic", 10_500, AT))
    with pytest.raises(OrderRefused) as refused:
        order_create(intent(qty=1))
    assert [r["code"] for r in refused.value.reasons] == ["excluded"]
    assert "VI 발동 중" in refused.value.reasons[0]["message"]
    _other, created = order_create(intent(qty=1, code="000660"))  # another code: not in VI
    assert created
    sell, created = order_create(intent("sell", 10, 9_000))
    assert created and sell.side == "sell"  # exits are never refused for a VI


@pytest.mark.django_db
def test_vi_is_an_excluded_kind_by_default_and_can_be_deselected(exchange_at: Clock) -> None:
    from apps.risk.selectors import active_config

    assert "vi" in active_config().limits.excluded
    vi.vi_use_local({CODE: ViState(CODE, "dynamic", 10_500, AT)})
    try:
        with pytest.raises(OrderRefused):
            order_create(intent(qty=1))
        kinds = sorted(active_config().limits.excluded - {"vi"})
        config_update({"excluded_kinds": kinds}, user=None, reason="VI 진입 허용")
        _order, created = order_create(intent(qty=1))
        assert created
    finally:
        vi.vi_use_local(None)


@pytest.mark.django_db
def test_liquidation_reports_a_sell_resting_during_vi(trader, settings, exchange_at: Clock) -> None:
    settings.RISK_VI_CACHE_SECONDS = 0
    from apps.risk.services.liquidation import (
        VI_REASON,
        liquidation_check,
        liquidation_request,
        liquidation_run,
    )
    from apps.risk.tests.test_liquidation_run import FakeBroker

    PositionFactory(code=CODE, quantity=10, market="KOSPI")
    PositionFactory(code="000660", quantity=5, market="KOSPI")
    vi.vi_write(ViState(CODE, "dynamic", 70_000, AT))
    broker = FakeBroker({CODE: (70_000, 49_000), "000660": (100_000, 70_000)})
    run, _ = liquidation_request(trader, "테스트", None, enqueue=False)
    done = liquidation_run(run.id, broker, schedule_checks=False)
    lines = {line.code: line for line in done.lines}
    assert lines[CODE].state == "sent" and lines[CODE].reason == VI_REASON
    assert lines["000660"].reason == ""
    checked = liquidation_check(run.id)
    assert checked is not None
    assert {line.code: line.reason for line in checked.lines}[CODE] == VI_REASON
    vi.vi_delete(CODE)  # released: the reason goes with it
    vi.forget()
    checked = liquidation_check(run.id, final=True)
    assert checked is not None
    unsold = {u["code"]: u["reason"] for u in checked.as_dict()["unsold"]}
    assert unsold[CODE] != VI_REASON and "체결되지 않았습니다" in unsold[CODE]


@pytest.mark.django_db
def test_the_state_api_and_the_page_list_the_codes_in_vi(
    trader_client: Any, api_client: Any, trader: Any, exchange_at: Clock
) -> None:
    vi.vi_write(ViState(CODE, "dynamic", 80_000, AT))
    api_client.force_authenticate(trader)
    body = api_client.get("/api/v1/risk/state").json()
    assert body["vi"] == [
        {"code": CODE, "kind": "dynamic", "price": 80_000, "since": body["vi"][0]["since"]}
    ]
    assert dt.datetime.fromisoformat(body["vi"][0]["since"]) == AT
    page = trader_client.get("/risk/")
    assert page.status_code == 200
    assert f'data-vi="{CODE}"' in page.content.decode()
