"""The overview page (seed 004 §7.1): the account summary, the system status, the position cards, the day's
feed of signals, fills and condition hits, the day's equity curve; roles and a bounded query count."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.services import balance_payload
from apps.accounts.tests.factories import BalanceSnapshotFactory
from apps.conditions.tests.factories import ConditionEventFactory, ConditionFactory
from apps.core.overview import day_feed
from apps.strategy.tests.support import SignalFactory
from apps.trades.services import fill_apply
from apps.trades.tests.factories import OrderFactory, PositionFactory
from krx import KST

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 2, 4)


def kst(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(h, m), tzinfo=KST)


NOW = kst("10:30")


@pytest.fixture(autouse=True)
def _exchange_clock(monkeypatch):
    monkeypatch.setattr("apps.broker.backends.exchange_now", lambda: NOW)


def _account():
    snap = BalanceSnapshotFactory(
        taken_at=kst("09:00"),
        account__account_no=settings.KIWOOM_ACCOUNT,
        estimated_assets=10_000_000,
    )
    BalanceSnapshotFactory(
        account=snap.account,
        taken_at=kst("10:00"),
        cash=4_321_000,
        total_evaluation=6_000_000,
        estimated_assets=10_321_000,
        day_profit_loss=-79_000,
    )
    BalanceSnapshotFactory(account=snap.account, taken_at=kst("15:30", DAY - dt.timedelta(days=1)))
    return snap.account


def _fill(code: str, at: dt.datetime, qty: int = 3, price: int = 70_000) -> None:
    order = OrderFactory(code=code, name="종목" + code, quantity=qty, price=price)
    fill_apply(order.pk, cum_quantity=qty, cum_amount=qty * price, executed_at=at)


def test_the_overview_shows_balance_status_positions_feed_and_curve(viewer_client) -> None:
    _account()
    PositionFactory(code="005930", quantity=10, current_price=71_000, stop_price=67_900)
    SignalFactory(at=kst("09:10"), day=DAY, reason="거래대금 1위 돌파")
    SignalFactory(
        at=kst("09:00", DAY - dt.timedelta(days=1)), day=DAY - dt.timedelta(days=1), reason="어제"
    )
    _fill("000660", kst("09:11"))
    ConditionEventFactory(condition=ConditionFactory(name="급등주"), code="035720", at=kst("09:12"))

    html = viewer_client.get("/").content.decode()

    account = html[html.index('id="ov-account"') : html.index('id="ov-system"')]
    assert "4,321,000원" in account and "6,000,000원" in account and "10,321,000원" in account
    assert "-79,000원" in account and "-0.76%" in account  # -79,000 / 10,400,000
    system = html[html.index('id="ov-system"') : html.index('id="ov-positions"')]
    assert 'data-state="active"' in system and "정상" in system
    assert 'data-switch="0"' in system and "정지" in system
    assert "02-04 09:11:00" in system  # the last fill
    cards = html[html.index('id="position-cards"') : html.index('id="ov-equity"')]
    assert 'data-code="005930"' in cards and "67,900원" in cards  # the stop price
    assert "10,000원" in cards and "+1.43%" in cards  # (71,000 - 70,000) × 10 over 700,000
    feed = html[html.index('id="signal-feed"') : html.index('id="health-table"')]
    rows = re.findall(r'data-kind="(\w+)"', feed)
    assert rows == ["condition", "fill", "signal"]  # newest first, one feed
    assert "거래대금 1위 돌파" in feed and "급등주" in feed and "3주 @ 70,000원" in feed
    assert "어제" not in feed  # the day's only
    curve = json.loads(
        re.search(r'id="equity-data" type="application/json">(.*?)</script>', html)[1]
    )
    assert [p["value"] for p in curve] == [10_000_000, 10_321_000]
    assert "chart.umd.min.js" in html and "core/overview.js" in html


def test_the_overview_without_any_data_says_so(viewer_client) -> None:
    html = viewer_client.get("/").content.decode()
    assert "아직 잔고 조회가 없습니다" in html
    assert "보유 종목이 없습니다" in html
    assert "오늘은 아직 신호, 체결, 조건 편입이 없습니다" in html


def test_anonymous_is_sent_to_login_and_both_roles_see_the_overview(client, viewer, trader) -> None:
    assert client.get("/").status_code == 302
    for user, can_toggle in ((viewer, False), (trader, True)):
        client.force_login(user)
        html = client.get("/").content.decode()
        assert 'id="ov-account"' in html and 'id="signal-feed"' in html
        assert ("flags/trading-enabled/toggle" in html) is can_toggle


def test_the_position_cards_alone_with_their_stop_prices(viewer_client) -> None:
    PositionFactory(code="005930", avg_price=70_000, stop_price=68_600)
    PositionFactory(code="000660", avg_price=70_000, stop_price=None)
    html = viewer_client.get("/", {"partial": "positions"}).content.decode()
    assert 'class="pos-card" data-code="005930"' in html and "<html" not in html
    first, second = html.split('data-code="005930"')
    # The position's own stop (what the risk exit sells at, trailing included); none known: "-".
    assert '<dd class="stop"' in second and "68,600원" in second
    assert "67,900원" not in html
    assert re.search(r'<dd class="stop"[^>]*>-</dd>', first)


# Each thing is read once (issue 17): the session and the user, the viewer's permissions (2), the
# account, its latest balance snapshot, the risk status, the runtime switches, today's fills, signals and
# condition hits, the positions, the broker's holdings (a position without a price of its own), the day's
# equity curve and the components' health.
OVERVIEW_QUERIES = 15


def _one_of_each(account, i: int) -> None:
    PositionFactory(code=f"{i:06d}", current_price=71_000)
    SignalFactory(at=kst(f"09:{10 + i}"), day=DAY, code=f"{i:06d}")
    _fill(f"{100 + i:06d}", kst(f"09:{20 + i}"))  # a position without a price of its own
    ConditionEventFactory(at=kst(f"09:{30 + i}"))
    BalanceSnapshotFactory(account=account, taken_at=kst(f"10:{i + 1:02d}"))


def test_the_query_count_does_not_grow_with_the_rows(viewer_client, django_assert_max_num_queries):
    account = _account()
    _one_of_each(account, 0)
    viewer_client.get("/")  # warm caches (content types, the risk configuration)
    with django_assert_max_num_queries(OVERVIEW_QUERIES), CaptureQueriesContext(connection) as few:
        viewer_client.get("/")
    for i in range(1, 8):
        _one_of_each(account, i)
    with django_assert_max_num_queries(OVERVIEW_QUERIES), CaptureQueriesContext(connection) as many:
        html = viewer_client.get("/").content.decode()
    assert len(many) == len(few)
    assert html.count('class="pos-card"') == 8 + 8  # the fills' buys are positions too
    assert html.count("data-kind=") == 24


def test_without_fills_today_the_last_fill_is_read_once_more(viewer_client) -> None:
    _fill("000660", kst("15:00", DAY - dt.timedelta(days=1)))
    viewer_client.get("/")
    with CaptureQueriesContext(connection) as queries:
        html = viewer_client.get("/").content.decode()
    assert "02-03 15:00:00" in html[html.index('id="ov-last-fill"') :]
    # No account (no snapshot, holdings nor curve: 3 fewer), no fill today: the last fill's own query.
    assert len(queries) == OVERVIEW_QUERIES - 3 + 1


def test_the_feed_keeps_the_newest_of_the_day() -> None:
    for i in range(5):
        SignalFactory(at=kst(f"09:{10 + i}"), day=DAY)
        ConditionEventFactory(at=kst(f"09:{20 + i}"))
    items = day_feed(settings.KIWOOM_ACCOUNT, NOW, limit=4)
    assert [i["kind"] for i in items] == ["condition"] * 4
    assert items[0]["at"] == kst("09:24")


def test_the_balance_push_carries_the_day_return() -> None:
    snap = BalanceSnapshotFactory(estimated_assets=10_321_000, day_profit_loss=-79_000)
    assert snap.day_return_rate == Decimal("-0.76")
    assert balance_payload(snap)["day_pnl_rate"] == Decimal("-0.76")
    snap.day_profit_loss = None
    assert balance_payload(snap)["day_pnl_rate"] is None


def test_english_overview(trader_client) -> None:
    trader_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = trader_client.get("/").content.decode()
    for text in ("Overview", "Account summary", "Positions", "Today's equity curve", "Risk state"):
        assert text in html
