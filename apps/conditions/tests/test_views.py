"""The condition pages: login required, everyone reads, only the trader gets controls."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.conditions import services
from apps.conditions.models import Condition, ConditionEvent, EventKind, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def cond() -> Condition:
    c = Condition.objects.create(seq="005", name="거래량 급증", active=True, last_error="")
    now = timezone.now()
    services.snapshot_apply(
        c.pk,
        [services.Observation("005930", "삼성전자", 71_000, Decimal("2.15"), 1000)],
        source=Source.POLL,
        observed_at=now,
        at=now,
    )
    ConditionEvent.objects.create(
        condition=c,
        code="000660",
        name="SK하이닉스",
        kind=EventKind.EXIT,
        at=datetime(2026, 11, 23, 0, 5, 7, tzinfo=UTC),
        recorded_at=now,
        price=180_000,
        change_rate=Decimal("-1.20"),
        source=Source.REALTIME,
    )
    return Condition.objects.get(pk=c.pk)


def test_anonymous_is_redirected_to_login(client, cond):
    for url in ("/conditions/", f"/conditions/{cond.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_list_page_for_viewer_shows_state_without_controls(viewer_client, cond):
    Condition.objects.create(seq="006", name="지워진 조건", listed=False, active=False)
    response = viewer_client.get("/conditions/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "거래량 급증" in html and "지워진 조건" in html
    assert f'href="/conditions/{cond.pk}/"' in html
    assert 'data-field="member_count">1<' in html
    assert "data-toggle" not in html
    assert 'id="sync-conditions"' not in html
    assert 'class="state on">ON<' in html
    assert "conditions/conditions.js" in html
    assert 'href="/conditions/"' in html  # nav link


def test_list_page_for_trader_has_switches_and_sync(trader_client, cond):
    html = trader_client.get("/conditions/").content.decode()
    assert html.count("data-toggle=") == 4
    assert 'data-toggle="active" aria-label="감시" checked' in html
    assert 'id="sync-conditions"' in html


def test_detail_page_for_viewer(viewer_client, cond):
    response = viewer_client.get(f"/conditions/{cond.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-code="005930"' in html and "71,000원" in html and "+2.15%" in html
    assert "2026-11-23 09:05:07" in html  # KST
    assert "이탈" in html and "실시간" in html and "-1.20%" in html
    assert "data-toggle" not in html
    assert 'id="search-now"' not in html
    assert 'id="cond-labels"' in html


def test_detail_page_for_trader(trader_client, cond):
    html = trader_client.get(f"/conditions/{cond.pk}/").content.decode()
    assert html.count("data-toggle=") == 4
    assert 'id="search-now"' in html
    assert f'data-search="/api/v1/conditions/{cond.pk}/search"' in html


def test_detail_page_404(viewer_client):
    assert viewer_client.get("/conditions/999999/").status_code == 404


def test_pages_in_english(viewer_client, cond):
    viewer_client.cookies["django_language"] = "en"
    html = viewer_client.get(f"/conditions/{cond.pk}/").content.decode()
    assert "Search now" not in html  # viewer: no button
    assert "Members" in html


def test_detail_page_formats_numbers(viewer_client, cond):
    html = viewer_client.get(f"/conditions/{cond.pk}/").content.decode()
    assert "71,000원" in html and "+2.15%" in html
    assert ">1,000<" in html  # volume with thousands separators


def test_the_feed_is_paged_and_a_flapping_stock_is_one_row(
    viewer_client, django_assert_max_num_queries
):
    from datetime import timedelta

    from apps.conditions.tests.factories import ConditionEventFactory, ConditionFactory
    from apps.conditions.views import EVENTS_PER_PAGE

    c = ConditionFactory()
    t0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    for i in range(40):  # 005930 in and out 20 times: 40 events
        ConditionEventFactory(
            condition=c,
            code="005930",
            name="삼성전자",
            kind="entry" if i % 2 == 0 else "exit",
            at=t0 + timedelta(seconds=30 * i),
            price=71_000 + i,
            change=1_200,
            change_rate=Decimal("1.72"),
            price_source="tick",
        )
    ConditionEventFactory(condition=c, code="000660", at=t0 + timedelta(hours=1), change=-500)

    with django_assert_max_num_queries(12):
        html = viewer_client.get(f"/conditions/{c.pk}/").content.decode()
    # Page 1: the newest 25 events; 24 of them are 005930's, collapsed into one row.
    assert html.count('class="flap"') == 1
    assert "24번 들락날락" in html and "편입 12 · 이탈 12" in html
    assert html.count("data-event=") == EVENTS_PER_PAGE
    assert "+1,200원" in html and "-500원" in html and "+1.72%" in html  # KRW beside the rate
    assert "체결(0B)" in html  # the price's source
    assert 'rel="next"' in html and "1 / 2" in html

    page2 = viewer_client.get(f"/conditions/{c.pk}/?page=2").content.decode()
    assert page2.count("data-event=") == 41 - EVENTS_PER_PAGE and 'rel="prev"' in page2
    flat = viewer_client.get(f"/conditions/{c.pk}/?flat=1").content.decode()
    assert 'class="flap"' not in flat and flat.count("data-event=") == EVENTS_PER_PAGE


def test_detail_page_shows_the_alert_hold_to_a_viewer(viewer_client, cond):
    Condition.objects.filter(pk=cond.pk).update(alert_hold_seconds=120)
    html = viewer_client.get(f"/conditions/{cond.pk}/").content.decode()
    assert '<span class="value">120</span>' in html and 'id="alert-hold"' not in html


def test_detail_page_lets_the_trader_set_the_alert_hold(trader_client, cond):
    Condition.objects.filter(pk=cond.pk).update(alert_hold_seconds=120)
    html = trader_client.get(f"/conditions/{cond.pk}/").content.decode()
    assert 'id="alert-hold"' in html and 'value="120"' in html


def test_the_collapsed_row_in_english(viewer_client):
    from datetime import timedelta

    from apps.conditions.tests.factories import ConditionEventFactory, ConditionFactory

    c = ConditionFactory()
    t0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    for i in range(4):
        ConditionEventFactory(
            condition=c, code="005930", kind=("entry", "exit")[i % 2], at=t0 + timedelta(seconds=i)
        )
    viewer_client.cookies["django_language"] = "en"
    html = viewer_client.get(f"/conditions/{c.pk}/").content.decode()
    assert "in and out 4 times" in html and "Show one by one" in html
