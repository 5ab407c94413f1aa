"""`manage.py conditions` against the in-memory broker."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from apps.broker.backends import get_broker, reset_broker
from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import BrokerUnavailable
from apps.conditions.models import Condition, ConditionEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(settings):
    settings.BROKER_BACKEND = "memory"
    settings.KIWOOM_USE_SIMULATOR = False
    reset_broker()
    b = get_broker()
    assert isinstance(b, MemoryBroker)
    b.add_condition("1", "급등주", ["005930"])
    b.add_condition("2", "거래량", ["000660"])
    yield b
    reset_broker()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("conditions", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_sync_list_check(broker: MemoryBroker) -> None:
    assert "created ['1', '2']" in run("sync")
    assert "급등주" in run("list") and "--I-" in run("list")  # synced ones start switched off
    with pytest.raises(CommandError, match="no active conditions"):
        run("check")
    assert "baseline" in run("check", "2")  # an unwatched condition: a silent preview
    Condition.objects.filter(seq="1").update(active=True)
    out = run("check", "1")
    assert "1 members" in out and "baseline" in out
    broker.add_condition("1", "급등주", ["005930", "035720"])
    assert "1 entries" in run("check", "1")
    assert ConditionEvent.objects.get().code == "035720"
    assert ConditionEvent.objects.get().source == "manual"


def test_bad_input_is_a_clear_error(broker: MemoryBroker) -> None:
    run("sync")
    with pytest.raises(CommandError, match="unknown condition seq"):
        run("check", "9")
    Condition.objects.update(active=True)
    broker.fail_next(BrokerUnavailable("socket closed"))
    with pytest.raises(CommandError, match="1 condition"):
        run("check")
    broker.fail_next(BrokerUnavailable("down"))
    with pytest.raises(CommandError, match="broker: down"):
        run("sync")


def test_check_says_when_a_concurrent_check_recorded_the_entries(broker: MemoryBroker) -> None:
    # Issue 11 #8: a manual check racing the 30-second check reported a bare "0 entries" although the
    # stocks had entered (the other check recorded them first: one entry, one event).
    from apps.conditions import services

    run("sync")
    Condition.objects.filter(seq="1").update(active=True)
    run("check", "1")  # baseline
    broker.add_condition("1", "급등주", ["005930", "035720"])
    search = broker.condition_search

    def search_after_a_competitor(seq: str):
        hits = search(seq)
        broker.condition_search = search  # the competitor searches normally
        services.condition_check(Condition.objects.get(seq=seq), broker)  # the beat's check wins
        return hits

    broker.condition_search = search_after_a_competitor
    out = run("check", "1")
    assert "0 entries" in out
    assert "(1 entries by the 30-second check recorded meanwhile)" in out
