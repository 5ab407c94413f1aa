"""The membership rules shared by the poll and realtime paths, the list sync and the switches."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import BrokerUnavailable
from apps.broker.contract import Condition as BrokerCondition
from apps.conditions import services
from apps.conditions.events import ConditionChange, condition_entered, condition_exited
from apps.conditions.models import Condition, ConditionEvent, ConditionMember, ConditionRun
from apps.conditions.services import Observation, RealtimeChange
from apps.conditions.tests.factories import ConditionFactory
from apps.notifications.models import Notification
from apps.notifications.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def obs(*codes: str, price: int = 10_000) -> list[Observation]:
    return [
        Observation(
            code=c, name=f"종목{c}", price=price, change_rate=Decimal("1.50"), change=price // 100
        )
        for c in codes
    ]


def snap(cond: Condition, codes: list[Observation], *, observed_at=None, source="poll"):
    now = timezone.now()
    return services.snapshot_apply(
        cond.pk, codes, source=source, observed_at=observed_at or now, at=now
    )


def rt(cond: Condition, code: str, entered: bool = True, **kw):
    return services.realtime_apply(
        cond.pk, [RealtimeChange(code=code, entered=entered, at=timezone.now(), **kw)]
    )


def events(cond: Condition) -> list[tuple[str, str, str]]:
    return list(
        ConditionEvent.objects.filter(condition=cond)
        .order_by("id")
        .values_list("code", "kind", "source")
    )


def test_first_snapshot_is_a_silent_baseline_then_diffs_make_events() -> None:
    cond = ConditionFactory()
    first = snap(cond, obs("000001", "000002"))
    assert first.baseline and first.entries == [] and events(cond) == []
    cond.refresh_from_db()
    assert cond.member_count == 2 and cond.baseline_at is not None

    second = snap(cond, obs("000002", "000003"))
    assert not second.baseline
    assert events(cond) == [("000003", "entry", "poll"), ("000001", "exit", "poll")]
    run = ConditionRun.objects.get(pk=second.run_id)
    assert (run.member_count, run.entries, run.exits, run.members) == (
        2,
        1,
        1,
        ["000002", "000003"],
    )
    entry = ConditionEvent.objects.get(code="000003")
    assert (
        entry.price == 10_000
        and entry.change == 100
        and entry.change_rate == Decimal("1.50")
        and entry.name == "종목000003"
    )
    # Nothing changed: no events, one more run in the history.
    snap(cond, obs("000002", "000003"))
    assert len(events(cond)) == 2 and ConditionRun.objects.filter(condition=cond).count() == 3


def test_realtime_entry_then_poll_makes_one_event() -> None:
    cond = ConditionFactory()
    snap(cond, obs("000001"))
    assert len(rt(cond, "000002")) == 1
    assert rt(cond, "000002") == []  # a repeated I frame changes nothing
    snap(cond, obs("000001", "000002"))
    assert events(cond) == [("000002", "entry", "realtime")]


def test_poll_entry_then_realtime_frame_makes_one_event() -> None:
    cond = ConditionFactory()
    snap(cond, obs("000001"))
    snap(cond, obs("000001", "000002"))
    assert rt(cond, "000002") == []
    assert events(cond) == [("000002", "entry", "poll")]


def test_a_poll_taken_before_a_realtime_change_does_not_undo_it() -> None:
    cond = ConditionFactory()
    snap(cond, obs("000001"))
    before = timezone.now() - timedelta(seconds=1)
    rt(cond, "000001", entered=False)  # left after the poll's request went out
    rt(cond, "000005")  # entered after the poll's request went out
    snap(cond, obs("000001"), observed_at=before)  # the stale list still has 000001, not 000005
    assert events(cond) == [("000001", "exit", "realtime"), ("000005", "entry", "realtime")]
    members = set(
        ConditionMember.objects.filter(condition=cond, is_member=True).values_list(
            "code", flat=True
        )
    )
    assert members == {"000005"}
    # A newer poll settles it normally.
    snap(cond, obs("000001"))
    assert events(cond)[-2:] == [("000001", "entry", "poll"), ("000005", "exit", "poll")]


def test_reentry_after_exit_is_a_new_event() -> None:
    cond = ConditionFactory()
    snap(cond, obs())
    rt(cond, "000001")
    rt(cond, "000001", entered=False)
    rt(cond, "000001")
    assert [k for _, k, _ in events(cond)] == ["entry", "exit", "entry"]
    assert rt(cond, "000009", entered=False) == []  # an exit of a non-member is ignored


def test_alerts_follow_the_condition_switches_and_a_burst_is_one_notification() -> None:
    ChannelFactory(event_kinds=["condition.entry", "condition.exit"])
    cond = ConditionFactory(notify_entry=True, notify_exit=False)
    snap(cond, obs(*[f"{i:06d}" for i in range(1, 11)]))
    codes = [f"{i:06d}" for i in range(5, 61)]  # 50 new, 4 gone
    with_alerts = snap(cond, obs(*codes))
    assert len(with_alerts.entries) == 50 and len(with_alerts.exits) == 4
    [note] = Notification.objects.all()
    assert note.kind == "condition.entry" and note.data["count"] == 50
    assert "편입 50종목" in note.title and "이탈" not in note.title


def test_domain_events_are_sent_after_commit(django_capture_on_commit_callbacks) -> None:
    seen: list[ConditionChange] = []

    def receiver(sender, change: ConditionChange, **kwargs) -> None:
        seen.append(change)

    condition_entered.connect(receiver)
    condition_exited.connect(receiver)
    try:
        cond = ConditionFactory()
        snap(cond, obs("000001"))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            rt(cond, "000002", price=5_000, change_rate=Decimal("2.00"))
        assert seen == []  # not before commit
        for cb in callbacks:
            cb()
        [change] = seen
        assert (change.code, change.entered, change.source, change.price) == (
            "000002",
            True,
            "realtime",
            5_000,
        )
        assert change.event_id == ConditionEvent.objects.get(code="000002").pk
    finally:
        condition_entered.disconnect(receiver)
        condition_exited.disconnect(receiver)


def test_sync_creates_renames_and_unlists() -> None:
    kept = ConditionFactory(seq="1", name="옛이름", realtime=True)
    gone = ConditionFactory(seq="9", name="지운조건", realtime=True)
    result = services.conditions_sync(
        [BrokerCondition("1", "새이름"), BrokerCondition("2", "신규")], account=kept.account
    )
    assert (result.created, result.renamed, result.unlisted) == (["2"], ["1"], ["9"])
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.name == "새이름" and kept.listed
    assert not gone.listed and not gone.realtime
    new = Condition.objects.get(seq="2")
    assert not new.active  # the trader chooses what to watch
    # The same list again changes nothing.
    again = services.conditions_sync(
        [BrokerCondition("1", "새이름"), BrokerCondition("2", "신규")], kept.account
    )
    assert (again.created, again.renamed, again.unlisted) == ([], [], [])


def test_switches_validate_and_reactivation_starts_a_new_baseline(settings) -> None:
    settings.CONDITIONS_MAX_REALTIME = 2
    a, b, c = ConditionFactory(active=False), ConditionFactory(), ConditionFactory()
    services.condition_update(a, realtime=True)
    a.refresh_from_db()
    assert a.realtime and a.active  # realtime implies the poll as a safety net
    services.condition_update(b, realtime=True)
    with pytest.raises(services.ConditionError, match="at most 2"):
        services.condition_update(c, realtime=True)
    c.refresh_from_db()
    assert not c.realtime
    with pytest.raises(services.ConditionError, match="unknown"):
        services.condition_update(c, colour=True)
    with pytest.raises(services.ConditionError, match="true or false"):
        services.condition_update(c, active="yes")  # type: ignore[arg-type]

    snap(c, obs("000001"))
    services.condition_update(c, active=False)
    c.refresh_from_db()
    assert not c.active and not c.realtime
    services.condition_update(c, active=True)
    c.refresh_from_db()
    assert c.baseline_at is None
    assert snap(
        c, obs("000001", "000002")
    ).baseline  # no burst of "entries" for a switched-on condition


def test_check_cycle_isolates_a_failing_condition(settings, time_machine) -> None:
    settings.KIWOOM_USE_SIMULATOR = False
    time_machine.move_to("2025-02-04 10:00:00+09:00", tick=True)
    broker = MemoryBroker()
    broker.add_condition("1", "하나", ["000001"])
    broker.add_condition("2", "둘", ["000002"])
    broker.add_condition("3", "셋", ["000003"])
    for seq in ("1", "2", "3"):
        ConditionFactory(seq=seq)
    ConditionFactory(seq="4", active=False)
    ConditionFactory(seq="5", listed=False)
    broker.fail_next(BrokerUnavailable("socket closed"))
    result = services.check_cycle(broker)
    assert (result.checked, result.failed) == (3, 1)
    assert [c[1] for c in broker.calls if c[0] == "condition_search"] == [("1",), ("2",), ("3",)]
    failed = Condition.objects.get(seq="1")
    assert "socket closed" in failed.last_error and failed.member_count == 0
    assert ConditionRun.objects.get(condition=failed).error
    assert Condition.objects.get(seq="2").member_count == 1
    # The next cycle succeeds and clears the error.
    services.check_cycle(broker)
    failed.refresh_from_db()
    assert failed.last_error == "" and failed.member_count == 1


def test_prune_keeps_events(settings) -> None:
    cond = ConditionFactory()
    snap(cond, obs("000001"))
    rt(cond, "000002")
    ConditionRun.objects.update(started_at=timezone.now() - timedelta(days=40))
    assert services.runs_prune(30) == 1
    assert ConditionEvent.objects.count() == 1


def test_realtime_on_for_an_inactive_condition_starts_a_new_baseline() -> None:
    cond = ConditionFactory()
    snap(cond, obs("000001"))
    services.condition_update(cond, active=False)
    services.condition_update(cond, realtime=True)
    cond.refresh_from_db()
    assert cond.active and cond.realtime and cond.baseline_at is None
    assert snap(cond, obs("000002")).baseline and events(cond) == []


def test_searching_an_unwatched_condition_is_silent() -> None:
    broker = MemoryBroker()
    broker.add_condition("7", "미리보기", ["000001"])
    cond = ConditionFactory(seq="7", active=False)
    first = services.condition_check(cond, broker, source="manual")
    broker.add_condition("7", "미리보기", ["000002"])
    second = services.condition_check(cond, broker, source="manual")
    assert first.baseline and second.baseline and events(cond) == []
    cond.refresh_from_db()
    assert cond.member_count == 1 and cond.baseline_at is None
    services.condition_update(cond, active=True)
    assert services.condition_check(cond, broker).baseline  # switched on: a fresh baseline


def test_an_unexpected_code_is_skipped_not_fatal() -> None:
    cond = ConditionFactory()
    snap(cond, obs("000001"))
    result = snap(cond, [*obs("0001A0"), Observation(code="TOOLONG7"), Observation(code="")])
    assert result.error == "" and [c for c, _, _ in events(cond)] == ["0001A0", "000001"]
    assert rt(cond, "A005930") == []  # an unnormalised code from a frame is skipped too


def test_member_rows_keep_the_latest_prices() -> None:
    cond = ConditionFactory()
    snap(cond, obs("000001", "000002", price=1_000))
    snap(cond, obs("000001", "000002", price=2_000))
    rows = ConditionMember.objects.filter(condition=cond).order_by("code")
    assert [(m.code, m.price, m.change, m.change_rate, m.is_member) for m in rows] == [
        ("000001", 2_000, 20, Decimal("1.50"), True),
        ("000002", 2_000, 20, Decimal("1.50"), True),
    ]


@pytest.mark.django_db
def test_last_check_is_stamped_with_the_exchange_clock() -> None:
    # Issue 11 #3: entries showed the exchange's (simulator's) time and "last check" the wall clock.
    from datetime import UTC, datetime

    cond = ConditionFactory(active=True)
    sim_time = datetime(2025, 1, 15, 1, 31, tzinfo=UTC)  # 10:31 KST on the replayed day
    services.snapshot_apply(
        cond.pk, obs("005930"), source="poll", observed_at=timezone.now(), at=sim_time
    )
    cond.refresh_from_db()
    assert cond.last_checked_at == sim_time
    assert (
        ConditionRun.objects.get(condition=cond).finished_at > sim_time
    )  # the run keeps wall time
