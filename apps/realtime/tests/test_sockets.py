"""The hub against the simulator over real sockets: a handler registered by a test receives typed ticks
beside the apps' own handlers; a raising and a stuck handler stop or delay no other; `run_realtime` reports
health and stops cleanly on SIGTERM."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from apps.broker.contract import Tick
from apps.broker.simulator.testing import SimHandle
from apps.conditions.models import Condition
from apps.conditions.tests.live_support import realtime_hub, simulated_broker, wait_until
from apps.core.models import SystemStatus
from apps.realtime.handlers import registered
from apps.realtime.tests.handlers import Blocked, Raiser, Recorder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CODE = "005930"


def publish_ticks(sim: SimHandle, count: int, code: str = CODE) -> None:
    for i in range(count):
        values = {"20": f"0901{i % 60:02d}", "10": f"+{70_000 + i}", "15": "+10", "13": str(i + 1)}
        sim.call(sim.server.hub.publish, "0B", code, values)


def until_subscribed(sim: SimHandle, code: str = CODE) -> None:
    wait_until(lambda: sim.call(sim.server.hub.wants, "0B", code))


def test_a_handler_registered_by_a_test_receives_typed_ticks(tmp_path) -> None:
    mine = Recorder(frozenset({CODE}))
    with (
        simulated_broker(tmp_path) as (sim, broker),
        registered("test.ticks", lambda ctx: mine),
        realtime_hub(broker, tick_codes=[CODE]) as rt,
    ):
        # The apps' handlers run beside it, untouched.
        names = [slot.name for slot in rt.hub.slots]
        assert {"conditions", "market.bars", "test.ticks"} <= set(names)
        until_subscribed(sim)
        publish_ticks(sim, 3)
        wait_until(lambda: len(mine.got) == 3)
        assert all(isinstance(t, Tick) for t in mine.got)
        assert [(t.code, t.price, t.quantity) for t in mine.got] == [
            (CODE, 70_000, 10),
            (CODE, 70_001, 10),
            (CODE, 70_002, 10),
        ]
        assert mine.got[0].at is not None and mine.got[0].at.strftime("%H:%M:%S") == "09:01:00"
        bars = rt.hub.handler("market.bars")
        wait_until(lambda: bars.health()["ticks"] == 3)
        assert mine.started


def test_a_raising_and_a_stuck_handler_do_not_hold_up_another(tmp_path) -> None:
    fast, bad, stuck = Recorder(), Raiser(), Blocked()
    handlers: dict[str, Any] = {
        "fast": lambda ctx: fast,
        "bad": lambda ctx: bad,
        "stuck": lambda ctx: stuck,
    }
    with simulated_broker(tmp_path) as (sim, broker), realtime_hub(broker, handlers=handlers) as rt:
        until_subscribed(sim)
        publish_ticks(sim, 20)
        wait_until(lambda: len(fast.got) == 20)
        # Every tick reached the fast handler while the stuck one still hangs on its first.
        assert stuck.got == []
        wait_until(lambda: len(bad.got) == 20)  # raised 20 times, still receiving
        figures = rt.hub.details()["handlers"]
        assert figures["bad"]["errors"] >= 20 and figures["fast"]["errors"] == 0
        rt.loop.call_soon_threadsafe(stuck.release.set)
        wait_until(lambda: len(stuck.got) == 20)
        assert [t.price for t in stuck.got] == [t.price for t in fast.got]


def test_health_is_ok_only_while_the_socket_is_logged_in(tmp_path) -> None:
    from apps.core.selectors import health_report

    stack = contextlib.ExitStack()
    _sim, broker = stack.enter_context(simulated_broker(tmp_path))
    try:
        # A heartbeat a minute: the change of the socket's state must be reported at once all the same.
        with realtime_hub(broker, handlers={"rec": lambda ctx: Recorder()}, heartbeat_seconds=60):
            status = wait_until(
                lambda: SystemStatus.objects.filter(component="realtime", status="ok").first()
            )
            assert status.details["connected"] is True and status.details["last_frame_at"]
            assert "connection #1" in status.message
            stack.close()  # the simulator goes away: no socket any more
            status = wait_until(
                lambda: SystemStatus.objects.filter(component="realtime", status="down").first(),
                timeout=10,
            )
            assert status.details["connected"] is False
            assert status.message.startswith("socket down, reconnecting (last frame 20")
            report = {c["component"]: c for c in health_report(probe=False)["components"]}
            assert report["realtime"]["status"] == "down"
    finally:
        stack.close()
    status = SystemStatus.objects.get(component="realtime")
    assert (status.status, status.message) == ("down", "stopped")


def test_run_realtime_command_reports_health_and_stops_on_sigterm(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    with simulated_broker(tmp_path) as (sim, _broker):
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="stockagent.settings_test",
            DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            KIWOOM_SIM_PORT=str(sim.port),
            REALTIME_HEARTBEAT_SECONDS="0.5",
        )
        env.pop("TEST_DATABASE_NAME", None)
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_realtime", "--ticks", CODE],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: (
                    SystemStatus.objects.filter(component="realtime", status="ok").exists()
                    or proc.poll() is not None
                ),
                timeout=60,
            )
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            assert set(Condition.objects.values_list("seq", flat=True)) == {"0", "1", "2"}
            handlers = SystemStatus.objects.get(component="realtime").details["handlers"]
            assert {"conditions", "market.bars"} <= set(handlers)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    status = SystemStatus.objects.get(component="realtime")
    assert (status.status, status.message) == ("down", "stopped")
