"""VI over real sockets: the simulator's `1h` frames reach the `risk.vi` handler through the hub, which
subscribed them for a code being watched; entries on the code are refused while the VI lasts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.broker.simulator.dto import ViEvent as SimVi
from apps.broker.simulator.testing import SimHandle
from apps.conditions.tests.live_support import realtime_hub, simulated_broker, wait_until
from apps.realtime.tests.handlers import Recorder
from apps.risk import vi
from apps.risk.vi_handler import RiskViHandler
from apps.trades.services import OrderIntent, OrderRefused, order_create
from krx.markets import Market

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CODE = "005930"


def vi_frame(sim: SimHandle, active: bool) -> SimVi:
    now = sim.now()
    return SimVi(
        CODE, "삼성전자", Market.KOSPI, now, active, "dynamic", 79_600, 74_600, 75_000,
        Decimal("6.70"), Decimal("6.13"), now, 1, True, 100, 7_500_000,
    )  # fmt: skip


def test_a_simulated_vi_is_recorded_refuses_entries_and_clears_on_release(tmp_path) -> None:
    watcher = Recorder(frozenset({CODE}))  # wants the code's ticks: risk.vi takes its VI too
    handlers = {"risk.vi": lambda ctx: RiskViHandler(ctx), "watcher": lambda ctx: watcher}
    with (
        simulated_broker(tmp_path) as (sim, _broker),
        realtime_hub(_broker, handlers=handlers) as rt,
    ):
        wait_until(lambda: sim.call(sim.server.hub.wants, "1h", CODE))
        handler = rt.hub.handler("risk.vi")
        assert isinstance(handler, RiskViHandler)
        sim.call(sim.server.hub.publish_events, [vi_frame(sim, True)])
        wait_until(lambda: CODE in handler.states)
        state = handler.states[CODE]
        assert (state.kind, state.price) == ("dynamic", 79_600)
        assert state.since.replace(microsecond=0) == sim.now().replace(microsecond=0)
        wait_until(lambda: CODE in vi.vi_read())  # for the other processes (written after memory)
        with pytest.raises(OrderRefused) as refused:
            order_create(
                OrderIntent(code=CODE, side="buy", quantity=1, price=79_600, order_type="limit")
            )
        assert [r["code"] for r in refused.value.reasons] == ["excluded"]
        assert "VI 발동 중" in refused.value.reasons[0]["message"]
        sim.call(sim.server.hub.publish_events, [vi_frame(sim, False)])
        wait_until(lambda: CODE not in handler.states)
        assert not vi.vi_active(CODE)
        wait_until(lambda: vi.vi_read() == {})
