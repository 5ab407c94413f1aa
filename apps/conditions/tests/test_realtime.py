"""The conditions handler of the realtime hub against the simulator over real sockets: 02 frames become events and one Slack
message, a dropped socket loses nothing and duplicates nothing, the poll relays through the socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.broker.simulator.testing import SimHandle
from apps.conditions import services, tasks
from apps.conditions.models import Condition, ConditionEvent, ConditionMember
from apps.conditions.tests.live_support import (
    at,
    realtime_hub,
    simulated_broker,
    wait_until,
)
from apps.core.models import SystemStatus
from apps.notifications.tests.factories import SlackChannelFactory
from apps.notifications.tests.fakes import FakeHTTPServer
from stockagent.celery import app as celery_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def fake_slack() -> Iterator[FakeHTTPServer]:
    server = FakeHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def eager() -> Iterator[None]:
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


def members(sim: SimHandle, seq: str) -> set[str]:
    return set(sim.call(sim.exchange.condition_members, seq))


def entries(seq: str) -> list[str]:
    return list(
        ConditionEvent.objects.filter(condition__seq=seq, kind="entry")
        .order_by("code")
        .values_list("code", flat=True)
    )


def test_realtime_entries_reach_the_database_and_slack_once(tmp_path, fake_slack, eager) -> None:
    SlackChannelFactory(secret=f"{fake_slack.url}/hook", event_kinds=["condition.entry"])
    with simulated_broker(tmp_path) as (sim, broker), realtime_hub(broker) as rt:
        # The conditions handler synced CNSRLST at start; new conditions come in switched off.
        assert set(Condition.objects.values_list("seq", flat=True)) == {"0", "1", "2"}
        assert not Condition.objects.filter(active=True).exists()
        big = Condition.objects.get(seq="1")
        services.condition_update(big, realtime=True)
        wait_until(lambda: "1" in rt.conditions.subscribed)
        big.refresh_from_db()
        assert big.baseline_at is not None and big.member_count == 0  # nothing matches before 09:06

        sim.advance_to_sync(at("09:06:15"))
        expected = members(sim, "1")
        assert expected  # the formula picks the largest caps
        wait_until(lambda: len(entries("1")) == len(expected))
        assert set(entries("1")) == expected
        event = ConditionEvent.objects.filter(condition=big).first()
        assert event.source == "realtime" and event.price and event.price > 0 and event.name
        assert event.at.astimezone(at("09:00:00").tzinfo).strftime("%H:%M") == "09:06"

        # One Slack message for the batch (or the single entry).
        assert fake_slack.wait_for(1)
        text = fake_slack.requests[0].body["text"]
        assert "대형주 6분 경과" in text and event.code in text

        # The 30-s poll sees the same members through the relayed socket: no second event.
        assert tasks.check_conditions()["checked"] == 1
        assert sorted(entries("1")) == sorted(expected)
        assert rt.hub.feed is not None and broker.client is not None

        # Heartbeat in the health table.
        wait_until(lambda: SystemStatus.objects.filter(component="realtime", status="ok").exists())
    status = SystemStatus.objects.get(component="realtime")
    assert status.status == "down" and status.message == "stopped"  # clean stop


def test_a_dropped_socket_loses_no_entry_and_duplicates_none(tmp_path, eager) -> None:
    with simulated_broker(tmp_path) as (sim, broker), realtime_hub(broker) as rt:
        cond = Condition.objects.get(seq="2")
        services.condition_update(cond, realtime=True)
        wait_until(lambda: "2" in rt.conditions.subscribed)
        connections = rt.hub.feed.connections

        # The socket drops and, before it is back, the stocks enter: their 02 frames are lost.
        sim.call(sim.faults.drop_websockets)
        sim.advance_to_sync(at("09:08:15"))
        expected = members(sim, "2")
        assert expected
        wait_until(lambda: rt.hub.feed.connections > connections)
        # The handler re-checks after the reconnect; the poll runs too. Every entry exactly once.
        wait_until(lambda: set(entries("2")) == expected)
        tasks.check_conditions()
        sim.advance_to_sync(at("09:08:45"))  # more frames, same members
        tasks.check_conditions()
        assert entries("2") == sorted(expected)
        assert rt.conditions.stats.resyncs >= 1
        assert ConditionMember.objects.filter(condition=cond, is_member=True).count() == len(
            expected
        )


def test_poll_alone_catches_entries_with_realtime_off(tmp_path, eager) -> None:
    with simulated_broker(tmp_path) as (sim, _broker):
        # No realtime process: the check opens its own short socket.
        cond = Condition.objects.create(account=sim.account, seq="0", name="6분 경과 전종목")
        assert tasks.check_conditions()["checked"] == 1  # baseline at 09:00:30
        sim.advance_to_sync(at("09:06:15"))
        result = tasks.check_conditions()
        expected = members(sim, "0")
        assert result["entries"] == len(expected) > 0
        assert set(entries("0")) == expected
        assert set(
            ConditionEvent.objects.filter(condition=cond).values_list("source", flat=True)
        ) == {"poll"}
