"""The simulator's list of the day's condition changes (`Exchange.condition_changes`, `GET /_sim/conditions`):
what a chaos run compares the recorded events against, so it must be complete and survive a restart."""

from __future__ import annotations

import httpx

from apps.broker.simulator.dto import ConditionEvent
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import running_simulator
from apps.broker.simulator.tests.engine_helpers import at, make


def test_the_log_holds_every_change_of_the_day_and_a_restart_rebuilds_it(tmp_path) -> None:
    ex = make(at(9, 0), codes=())
    emitted = [e for e in ex.advance(at(9, 40)) if isinstance(e, ConditionEvent)]
    assert emitted, "the default conditions should move in the first 40 minutes"
    assert ex.condition_changes() == emitted  # the same whether anybody subscribed or not

    path = tmp_path / "state.json"
    ex.save(path)
    back = Exchange.load_or_create(
        ExchangeConfig(seed=7, use_krx_calendar=False, state_path=path)
    )  # a restart: the day is replayed from its start, silently
    assert back.condition_changes() == emitted
    later = [e for e in back.advance(at(10, 0)) if isinstance(e, ConditionEvent)]
    assert back.condition_changes() == emitted + later


async def test_sim_conditions_endpoint_lists_the_changes() -> None:
    ex = make(at(9, 0), codes=())
    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600)
    async with running_simulator(ex, config=cfg, start=at(9, 0)) as sim:
        await sim.advance_to(at(9, 30))
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=5) as c:
            body = (await c.get("/_sim/conditions")).json()
    assert body["sim_time"] == "2025-06-02T09:30:00+09:00"
    changes = ex.condition_changes()
    assert changes and body["changes"] == [
        [e.seq, e.code, e.kind, e.time.isoformat()] for e in changes
    ]


def test_a_clock_started_again_soon_continues_as_if_it_had_kept_running(tmp_path) -> None:
    from apps.broker.simulator.clock import continued_start, write_clock

    path = tmp_path / "state.json.clock"
    write_clock(path, at(9, 30), 30.0, wall=1000.0)
    assert continued_start(path, 30.0, wall=1006.0) == at(9, 33)  # 6 s down at 30x: 3 minutes on
    assert continued_start(path, 60.0, wall=1006.0) is None  # started at another speed
    assert continued_start(path, 30.0, wall=1000.0 + 3600) is None  # long after: resume as saved
    assert continued_start(tmp_path / "missing", 30.0) is None
