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
