"""The chaos run's accounting (apps/core/chaos_accounting.py) on small, hand-made histories: it must catch
a lost, a duplicated and an invented event, and accept what nobody could have seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.core.chaos_accounting import account_notifications, compare_events
from krx import KST


def t(minute: int, second: int = 0) -> datetime:
    return datetime(2025, 1, 15, 9, minute, second, tzinfo=KST)


START = t(1)
SLACK = timedelta(seconds=60)


def change(seq: str, code: str, kind: str, at: datetime) -> list[str]:
    return [seq, code, kind, at.isoformat()]


def event(
    seq: str, code: str, kind: str, at: datetime, source: str = "realtime", id: int = 0
) -> dict:
    return {
        "id": id,
        "seq": seq,
        "code": code,
        "kind": kind,
        "at": at.astimezone(UTC).isoformat(),  # as the database gives it; the alerts speak KST
        "source": source,
    }


def compare(changes, events, *, realtime=("0",), blind=(), final=None):
    return compare_events(
        changes,
        events,
        set(realtime),
        start=START,
        blind=list(blind),
        slack=SLACK,
        final_members=final,
    )


SIM = [change("0", "A", "I", t(2)), change("0", "A", "D", t(5)), change("0", "A", "I", t(9))]


def test_every_change_recorded_once_is_clean():
    events = [
        event("0", "A", "entry", t(2)),
        event("0", "A", "exit", t(5)),
        event("0", "A", "entry", t(9)),
    ]
    result = compare(SIM, events, final={("0", "A")})
    assert result["problems"] == []
    assert result["counts"]["matched_realtime"] == 3


def test_a_lost_realtime_change_is_reported_unless_the_feed_was_down():
    events = [event("0", "A", "entry", t(9), source="poll")]  # the poll caught up the net state
    lost = compare(SIM, events, final={("0", "A")})["problems"]
    assert any("lost" in p for p in lost)
    assert compare(SIM, events, blind=[(t(1, 30), t(8))], final={("0", "A")})["problems"] == []


def test_a_lone_missed_change_is_a_wrong_membership_even_in_a_blind_window():
    events = [
        event("0", "A", "entry", t(2))
    ]  # the exit at 9:05 and the entry at 9:09 never recorded...
    problems = compare(SIM[:2], events, blind=[(t(4), t(6))], final={("0", "A")})["problems"]
    assert any("membership differs" in p for p in problems)


def test_a_duplicate_and_an_invented_event_are_reported():
    twice = [event("0", "A", "entry", t(2)), event("0", "A", "entry", t(3), source="poll", id=2)]
    problems = compare(SIM[:1], twice, final={("0", "A")})["problems"]
    assert any("twice in a row" in p for p in problems)
    invented = [event("0", "B", "entry", t(4), source="poll")]
    assert any("matches no change" in p for p in compare([], invented)["problems"])


def test_a_poll_event_matches_the_change_it_saw_within_the_slack():
    events = [
        event("3", "A", "entry", t(2, 30), source="poll"),
        event("3", "A", "exit", t(4, 30), source="poll"),
    ]
    sim = [change("3", "A", "I", t(2, 40)), change("3", "A", "D", t(4, 0))]
    assert compare(sim, events, realtime=())["problems"] == []
    far = [event("3", "A", "entry", t(0, 30) + timedelta(minutes=30), source="poll")]
    assert compare(sim, far, realtime=(), final=set())["problems"]  # undone long before it


def test_flaps_between_polls_are_not_losses_but_the_final_state_must_agree():
    sim = [change("3", "A", "I", t(2)), change("3", "A", "D", t(3))]
    assert compare(sim, [], realtime=(), final=set())["problems"] == []
    assert compare(sim, [], realtime=(), final={("3", "A")})["problems"]


def test_notifications_each_event_alerted_once_and_delivered_once():
    conditions = {"0": {"notify_entry": True, "notify_exit": False}}
    events = [
        event("0", "A", "entry", t(2), id=1),
        event("0", "A", "exit", t(2, 20), id=2),
        event("0", "A", "entry", t(2, 40), id=3),  # same minute: one alert per minute
        event("0", "B", "entry", t(3), id=4),
    ]
    alert = {"condition_seq": "0", "code": "A", "entered": True, "at": t(2).isoformat()}
    notes = [
        {"id": 10, "kind": "condition.entry", "data": alert},
        {"id": 11, "kind": "condition.entry", "data": {"batch": True, "alerts": [{**alert, "code": "B", "at": t(3).isoformat()}]}},
    ]  # fmt: skip
    deliveries = [
        {"id": 1, "channel": 5, "notification": 10, "status": "sent", "is_digest": False, "digest": None, "attempts": 2},
        {"id": 2, "channel": 5, "notification": 11, "status": "digested", "is_digest": False, "digest": 3, "attempts": 0},
        {"id": 3, "channel": 5, "notification": None, "status": "sent", "is_digest": True, "digest": None, "attempts": 1},
    ]  # fmt: skip
    result = account_notifications(events, conditions, notes, deliveries, {5})
    assert result["problems"] == []
    assert result["counts"]["alerted_events"] == 2
    assert result["counts"]["alerts_same_minute"] == 1
    assert result["counts"]["deliveries_resent"] == 1

    missing = account_notifications(events, conditions, notes[:1], deliveries[:1], {5})["problems"]
    assert any("never alerted" in p for p in missing)
    pending = [dict(deliveries[0], status="unknown")]
    assert account_notifications(events[:1], conditions, notes[:1], pending, {5})["problems"]
    doubled = [deliveries[0], dict(deliveries[0], id=9)]
    assert any(
        "2 deliveries" in p
        for p in account_notifications(events[:1], conditions, notes[:1], doubled, {5})["problems"]
    )


def test_a_failed_chaos_run_keeps_the_feeds_condition_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from apps.core.stackcheck import condition_lines

    log = tmp_path / "stack.log"
    log.write_text(
        "[realtime] INFO realtime: condition 3 subscribed (4 members)\n"
        "[realtime] ERROR realtime condition 3 not restored (no such condition); dropped\n"
        "[web] GET /health 200\n"
        "[realtime] WARNING realtime: condition 3 is no longer subscribed; subscribing again\n"
    )
    assert condition_lines(log) == [
        "[realtime] ERROR realtime condition 3 not restored (no such condition); dropped",
        "[realtime] WARNING realtime: condition 3 is no longer subscribed; subscribing again",
    ]
    assert condition_lines(tmp_path / "missing.log") == []
