"""Recording is idempotent on (condition, code, kind, exchange time); alerts can be held until a change has
lasted; each event says where its price came from (the realtime hub's last-price cache, a quote, a
search)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.broker.kiwoom.events import KiwoomTick
from apps.conditions import services
from apps.conditions.models import ConditionEvent, ConditionMember
from apps.conditions.services import Observation, RealtimeChange
from apps.conditions.tests.factories import ConditionEventFactory, ConditionFactory
from apps.notifications.models import Notification
from apps.notifications.tests.factories import ChannelFactory
from apps.realtime.prices import LastPrices
from krx import KST

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=KST)


def frame(cond, code: str, entered: bool, at: datetime, **kw) -> list[int]:
    return services.realtime_apply(
        cond.pk, [RealtimeChange(code=code, entered=entered, at=at, **kw)]
    )


def poll(cond, codes: list[str], at: datetime, price: int = 10_000):
    return services.snapshot_apply(
        cond.pk,
        [Observation(code=c, name=f"종목{c}", price=price) for c in codes],
        source="poll",
        observed_at=timezone.now(),
        at=at,
    )


def history(cond) -> list[tuple[str, str, datetime]]:
    return list(
        ConditionEvent.objects.filter(condition=cond)
        .order_by("id")
        .values_list("code", "kind", "at")
    )


def watched(**kw):
    cond = ConditionFactory(**kw)
    poll(cond, [], T0 - timedelta(minutes=5))  # the silent baseline
    return cond


# --- idempotency ------------------------------------------------------------------------------------------
def test_the_same_frame_twice_is_one_event() -> None:
    cond = watched()
    assert len(frame(cond, "005930", True, T0)) == 1
    assert frame(cond, "005930", True, T0) == []
    assert history(cond) == [("005930", "entry", T0)]


def test_a_frame_replayed_after_the_clock_went_back_changes_nothing() -> None:
    """In at 10:00, out at 10:05, then the exchange restarts at 09:59 and replays 'in at 10:00'."""
    ChannelFactory(event_kinds=["condition.entry"])
    cond = watched()
    frame(cond, "005930", True, T0)
    frame(cond, "005930", False, T0 + timedelta(minutes=5))
    notes = Notification.objects.count()

    assert frame(cond, "005930", True, T0) == []  # replayed: no event, no flip, no alert
    assert history(cond) == [
        ("005930", "entry", T0),
        ("005930", "exit", T0 + timedelta(minutes=5)),
    ]
    assert not ConditionMember.objects.get(condition=cond, code="005930").is_member
    assert Notification.objects.count() == notes
    # Replays inside one batch are dropped as well.
    ids = services.realtime_apply(
        cond.pk,
        [
            RealtimeChange(code="000660", entered=True, at=T0),
            RealtimeChange(code="000660", entered=False, at=T0 + timedelta(seconds=1)),
            RealtimeChange(code="000660", entered=True, at=T0),
        ],
    )
    assert len(ids) == 2


def test_a_poll_after_a_realtime_entry_records_nothing_more() -> None:
    cond = watched()
    frame(cond, "005930", True, T0)
    result = poll(cond, ["005930"], T0)  # the same moment, seen by the poll
    assert result.entries == [] and len(history(cond)) == 1

    # Realtime saw it leave; then a poll stamped with the already used entry time (the exchange's clock
    # went back) lists it again: that entry is on record, so nothing changes.
    frame(cond, "005930", False, T0 + timedelta(minutes=1))
    result = poll(cond, ["005930"], T0)
    assert result.entries == [] and len(history(cond)) == 2
    assert not ConditionMember.objects.get(condition=cond, code="005930").is_member
    # A later poll is a genuine new entry.
    assert len(poll(cond, ["005930"], T0 + timedelta(minutes=2)).entries) == 1


def test_the_database_refuses_a_duplicate_event() -> None:
    e = ConditionEventFactory(at=T0)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConditionEventFactory(condition=e.condition, code=e.code, kind=e.kind, at=T0)


# --- hold time (debounce) ---------------------------------------------------------------------------------
def test_an_entry_is_alerted_only_once_it_has_lasted_the_hold() -> None:
    ChannelFactory(event_kinds=["condition.entry", "condition.exit"])
    cond = watched(alert_hold_seconds=60, notify_exit=True)
    frame(cond, "005930", True, T0, price=71_500, price_source="tick")
    assert Notification.objects.count() == 0  # recorded at once, alert held
    assert len(history(cond)) == 1

    assert services.alerts_release(cond.pk, now=T0 + timedelta(seconds=30)) == 0
    assert services.alerts_release(cond.pk, now=T0 + timedelta(seconds=61)) == 1
    [note] = Notification.objects.all()
    assert note.kind == "condition.entry" and "71,500" in note.body
    assert services.alerts_release(cond.pk, now=T0 + timedelta(seconds=300)) == 0  # told once

    frame(cond, "005930", False, T0 + timedelta(seconds=100))
    services.alerts_release(cond.pk, now=T0 + timedelta(seconds=161))
    assert Notification.objects.filter(kind="condition.exit").count() == 1


def test_a_stock_flapping_within_the_hold_is_never_alerted() -> None:
    ChannelFactory(event_kinds=["condition.entry", "condition.exit"])
    cond = watched(alert_hold_seconds=120, notify_exit=True)
    for i in range(20):  # 40 entries/exits, 10 s apart
        at = T0 + timedelta(seconds=20 * i)
        frame(cond, "005930", True, at)
        frame(cond, "005930", False, at + timedelta(seconds=10))
    # Out now, and never told it was in: nothing to tell.
    assert services.alerts_release(now=T0 + timedelta(hours=1)) == 0
    assert Notification.objects.count() == 0
    assert len(history(cond)) == 40  # the history keeps every change


def test_without_a_hold_alerts_go_at_once_and_the_sweep_has_nothing_to_do() -> None:
    ChannelFactory(event_kinds=["condition.entry"])
    cond = watched()
    frame(cond, "005930", True, T0)
    assert Notification.objects.count() == 1
    assert services.alerts_release(now=T0 + timedelta(hours=1)) == 0


# --- the price at the event -------------------------------------------------------------------------------
def tick(code: str, hhmmss: str, price: int) -> KiwoomTick:
    values = {"10": f"+{price}", "11": "+500", "12": "+0.70", "20": hhmmss, "15": "+10"}
    return KiwoomTick(code, values, date(2026, 11, 27))


def test_last_prices_give_the_last_trade_at_or_before_a_moment() -> None:
    prices = LastPrices(depth=3)
    for t, p in (("095958", 71_000), ("095959", 71_100), ("100001", 71_300)):
        prices.record("005930", tick("005930", t, p))
    got = prices.at_or_before("005930", T0)
    assert got is not None and got.price == 71_100 and got.change == 500
    assert got.change_rate == Decimal("0.70")
    assert prices.at_or_before("000660", T0) is None
    prices.record("005930", tick("005930", "100002", 71_400))  # 09:59:58 falls out (depth 3)
    assert prices.at_or_before("005930", T0 - timedelta(seconds=2)) is None
    prices.clear()
    assert prices.at_or_before("005930", T0) is None


def test_each_event_says_where_its_price_came_from() -> None:
    cond = watched()
    frame(cond, "005930", True, T0, price=71_100, price_source="tick")
    frame(cond, "000660", True, T0)  # neither tick nor quote
    poll(cond, ["005930", "000660", "035720"], T0 + timedelta(seconds=30))
    frame(cond, "005930", False, T0 + timedelta(minutes=1))
    rows = ConditionEvent.objects.filter(condition=cond).values_list("code", "kind", "price_source")
    got = {(code, kind): source for code, kind, source in rows}
    assert got == {
        ("005930", "entry"): "tick",
        ("000660", "entry"): "",
        ("035720", "entry"): "search",
        ("005930", "exit"): "member",
    }


def test_the_realtime_handler_prices_a_frame_with_the_hubs_last_tick() -> None:
    from apps.broker.backends.memory import MemoryBroker
    from apps.conditions.realtime_handlers import ConditionsHandler
    from apps.realtime.handlers import HubContext

    ctx = HubContext(MemoryBroker())
    ctx.prices.record("005930", tick("005930", "095959", 71_100))
    ctx.prices.record("005930", tick("005930", "100003", 71_900))  # after the frame: not its price
    handler = ConditionsHandler(ctx)
    priced, unpriced = handler._with_ticks(
        [
            RealtimeChange(code="005930", entered=True, at=T0),
            RealtimeChange(code="000660", entered=True, at=T0),  # no ticks: left for the quote
        ]
    )
    assert (priced.price, priced.change, priced.price_source) == (71_100, 500, "tick")
    assert (unpriced.price, unpriced.price_source) == (None, "")
