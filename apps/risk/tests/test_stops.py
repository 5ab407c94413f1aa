"""The stop price kept on the position (`apps.risk.stops`): set by the books when a fill opens a
position or moves its average price (from the exit policy and the stored high since entry), cleared on
the close, written only while the position is still the one it was computed for, and recomputed when a
new risk configuration version moves the stop-loss or the trailing stop — each change pushed as
`position_update` with its `stop`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import redis
from django.conf import settings

from apps.risk.policy import ExitPolicy, set_exit_policy_provider
from apps.risk.services.config import config_update
from apps.risk.stops import StopChange, entry_text, high_key, stops_write
from apps.trades.models import Position
from apps.trades.services import fill_apply
from apps.trades.tests.factories import OrderFactory, PositionFactory
from krx import KST

pytestmark = pytest.mark.django_db

AT = dt.datetime(2025, 2, 4, 10, 0, tzinfo=KST)
CODE = "005930"


@pytest.fixture
def pushes(monkeypatch):  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "apps.core.live.publish_soon", lambda t, d, g="live", key=None: sent.append((t, d))
    )
    return sent


@pytest.fixture
def policy():  # type: ignore[no-untyped-def]
    def use(stop: str = "-3", trail: str | None = None) -> None:
        p = ExitPolicy(
            stop_loss_pct=Decimal(stop),
            trailing_stop_pct=None if trail is None else Decimal(trail),
        )
        set_exit_policy_provider(lambda: p)

    yield use
    set_exit_policy_provider(None)


def store_high(code: str, high: int, entry: dt.datetime | None) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.hset(high_key(settings.KIWOOM_ACCOUNT), code, f"{high}|{entry_text(entry)}")
    client.close()


def fill(side: str, qty: int, price: int, at: dt.datetime = AT) -> None:
    order = OrderFactory(side=side, quantity=qty, price=price)
    fill_apply(order.pk, cum_quantity=qty, cum_amount=qty * price, executed_at=at)


def stop_pushes(sent: list[tuple[str, dict]]) -> list[int | None]:
    return [d["stop"] for t, d in sent if t == "position_update"]


def test_the_books_set_the_stop_on_open_and_average_change_and_clear_it_on_close(
    policy, pushes, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    policy("-3", "2")
    with django_capture_on_commit_callbacks(execute=True):
        fill("buy", 10, 70_000)
    position = Position.objects.get(code=CODE)
    # A new position: the trailing stop starts at the average price: 70,000 × 0.98 = 68,600.
    assert position.stop_price == 68_600
    assert stop_pushes(pushes) == [68_600]
    # The realtime handler stored a high of 80,000 since this entry; an add moves the average.
    store_high(CODE, 80_000, position.entry_time)
    with django_capture_on_commit_callbacks(execute=True):
        fill("buy", 10, 72_000, AT + dt.timedelta(minutes=5))
    position.refresh_from_db()
    assert position.avg_price == Decimal(71_000)
    assert position.stop_price == 78_400  # 80,000 × 0.98, above 71,000 × 0.97
    # A partial sell leaves the average (and so the stop) alone; the last share clears it.
    fill("sell", 5, 79_000, AT + dt.timedelta(minutes=6))
    position.refresh_from_db()
    assert position.stop_price == 78_400
    with django_capture_on_commit_callbacks(execute=True):
        fill("sell", 15, 79_000, AT + dt.timedelta(minutes=7))
    position.refresh_from_db()
    assert position.quantity == 0 and position.stop_price is None
    assert stop_pushes(pushes)[-1] is None


def test_a_stored_high_of_an_earlier_entry_is_ignored(policy) -> None:  # type: ignore[no-untyped-def]
    policy("-3", "2")
    fill("buy", 10, 70_000)
    store_high(CODE, 90_000, AT - dt.timedelta(days=1))
    fill("buy", 10, 70_000, AT + dt.timedelta(minutes=1))
    assert Position.objects.get(code=CODE).stop_price == 68_600


def test_a_stop_is_written_only_for_the_position_it_was_computed_for(
    pushes, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    account = settings.KIWOOM_ACCOUNT
    PositionFactory(code=CODE, quantity=10, avg_price=70_000, entry_time=AT, stop_price=67_900)
    stale = {CODE: StopChange(Decimal(69_000), AT, 66_900)}  # a fill moved the average since
    with django_capture_on_commit_callbacks(execute=True):
        assert stops_write(account, stale) == []
        unchanged = {CODE: StopChange(Decimal(70_000), AT, 67_900)}
        assert stops_write(account, unchanged) == []
    assert pushes == []
    with django_capture_on_commit_callbacks(execute=True):
        assert stops_write(account, {CODE: StopChange(Decimal(70_000), AT, 71_500)}) == [CODE]
    assert Position.objects.get(code=CODE).stop_price == 71_500
    assert pushes == [("position_update", {"code": CODE, "qty": 10, "pnl": None, "stop": 71_500})]


def test_a_new_configuration_recomputes_the_stops(
    pushes, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    PositionFactory(code=CODE, quantity=10, avg_price=70_000, entry_time=AT, stop_price=67_900)
    PositionFactory(code="000660", quantity=0, avg_price=0, stop_price=None)  # closed: untouched
    store_high(CODE, 75_000, AT)
    with django_capture_on_commit_callbacks(execute=True):
        config_update({"stop_loss_pct": "-3", "trailing_stop_pct": "3"}, user=None, reason="x")
    assert Position.objects.get(code=CODE).stop_price == 72_700  # 75,000 × 0.97 = 72,750 → grid
    assert ("position_update", {"code": CODE, "qty": 10, "pnl": None, "stop": 72_700}) in pushes
    with django_capture_on_commit_callbacks(execute=True):
        config_update({"trailing_stop_pct": ""}, user=None, reason="y")
    assert Position.objects.get(code=CODE).stop_price == 67_900
    assert Position.objects.get(code="000660").stop_price is None
