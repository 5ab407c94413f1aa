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
    assert len(queries) <= 30  # the overview's own reads: apps/core/tests/test_overview.py


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


def test_english_mode_translates_money_flag_and_health(trader_client):
    # Issue 11 #8: English mode left "원", the switch description and the health words in Korean.
    from django.utils import translation

    from apps.core.templatetags.stockagent import krw

    with translation.override("en"):
        assert krw(71500) == "₩71,500"
    with translation.override("ko"):
        assert krw(71500) == "71,500원"
    trader_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = trader_client.get("/").content.decode()
    assert "Allow automatic trading orders" in html
    assert "Unknown" in html or "unknown" in html.lower()
    assert "알 수 없음" not in html


def test_korean_admin_shows_korean_app_and_model_labels(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "r@example.com", "pw-123456")
    client.force_login(admin)
    html = client.get("/admin/").content.decode()
    for label in ("시세 데이터", "종목", "조건검색", "편입 종목", "알림", "시스템", "인증 토큰"):
        assert label in html, label
    for english in ("Market data", "Instruments", "Conditions", "Auth Token"):
        assert english not in html, english


def test_404_and_403_pages_keep_the_navigation(viewer_client):
    response = viewer_client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "페이지를 찾을 수 없습니다" in html and "<nav>" in html and 'id="status-strip"' in html
    response = viewer_client.post("/flags/trading-enabled/toggle", {"enabled": "1", "reason": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "권한이 없습니다" in html and "<nav>" in html


def test_bars_page_empty_state_says_what_to_do_and_has_no_stray_pager(viewer_client):
    html = viewer_client.get("/market/bars/").content.decode()
    assert "저장된 봉이 없습니다." in html
    assert "import_daily_bars" in html and "backfill" in html
    assert 'class="pager"' not in html
    assert 'href="/market/bars/"' in html  # the bars page is in the navigation
