"""Pages: login on every page, roles on the system page, language switch, status strip."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import RuntimeFlag
from apps.core.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/admin/", "/api/v1/health"])
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert "/login/" in response["Location"] or "/admin/login/" in response["Location"]


def test_login_page_and_login(client, trader):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": trader.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_shows_error(client, trader):
    response = client.post("/login/", {"username": trader.username, "password": "nope"})
    assert response.status_code == 200
    assert "올바르지 않습니다" in response.content.decode()


def test_system_page_shows_status_strip_and_no_toggle_for_viewer(viewer_client):
    html = viewer_client.get("/").content.decode()
    assert 'id="status-strip"' in html
    assert 'data-component="worker"' in html
    assert "조회 전용" in html
    assert "/flags/trading-enabled/toggle" not in html


def test_trader_toggles_flag_viewer_is_refused(trader_client, viewer, client):
    html = trader_client.get("/").content.decode()
    assert "/flags/trading-enabled/toggle" in html
    trader_client.post("/flags/trading-enabled/toggle", {"enabled": "1", "reason": "test"})
    assert RuntimeFlag.objects.get(key="trading-enabled").enabled is True

    client.force_login(viewer)
    assert client.post("/flags/trading-enabled/toggle", {"enabled": "0"}).status_code == 403
    assert RuntimeFlag.objects.get(key="trading-enabled").enabled is True


def test_english_is_selectable(trader_client):
    response = trader_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    html = trader_client.get("/").content.decode()
    assert "System status" in html
    assert "Log out" in html


def test_system_page_query_count_is_bounded(trader_client):
    trader_client.get("/")  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as queries:
        assert trader_client.get("/").status_code == 200
    assert len(queries) <= 12


def test_switching_automatic_trading_on_needs_a_reason_and_shows_who_and_why(trader_client, trader):
    # Issue 11 #6: one unconfirmed click used to switch automatic trading on.
    html = trader_client.get("/").content.decode()
    assert 'id="confirm-trading-enabled"' in html  # the confirmation dialog
    assert 'name="reason" required' in html

    response = trader_client.post("/flags/trading-enabled/toggle", {"enabled": "1"}, follow=True)
    assert RuntimeFlag.objects.get(key="trading-enabled").enabled is False
    assert "사유를 입력하세요" in response.content.decode()

    trader_client.post(
        "/flags/trading-enabled/toggle", {"enabled": "1", "reason": "장 시작 점검 완료"}
    )
    flag = RuntimeFlag.objects.get(key="trading-enabled")
    assert flag.enabled is True
    assert flag.events.get().reason == "장 시작 점검 완료"
    html = trader_client.get("/").content.decode()
    assert f'{trader.username} · <q class="reason">장 시작 점검 완료</q>' in html

    # Switching off needs no confirmation.
    trader_client.post("/flags/trading-enabled/toggle", {"enabled": "0"})
    assert RuntimeFlag.objects.get(key="trading-enabled").enabled is False
