"""The condition detail page in Chromium against a real Daphne server: a change recorded server-side shows up
as a new member row and event over /ws/live without a reload; the trader's switch and "search now" work;
a viewer sees the same page without controls."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from apps.conditions import services
from apps.conditions.models import Condition, ConditionEvent, Source
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _in_thread(fn, *args, **kwargs):
    """Run server-side code off the Playwright thread (it owns an event loop; async_to_sync needs another)."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test thread
            out["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    if "error" in out:
        raise out["error"]
    return out.get("value")


def _condition_with_baseline() -> int:
    cond = Condition.objects.create(seq="101", name="돌파 매수", active=True)
    now = timezone.now()
    services.snapshot_apply(
        cond.pk,
        [services.Observation("005930", "삼성전자", 71_000, Decimal("1.00"), 100)],
        source=Source.POLL,
        observed_at=now,
        at=now,
    )
    return cond.pk


def _open(browser, base_url: str, username: str, path: str):
    page = browser.new_context().new_page()
    page.goto(base_url + path)
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + path)
    page.wait_for_selector("#live-indicator.on", timeout=10_000)
    return page


@pytest.fixture
def memory_broker_env(monkeypatch):
    # The Daphne process gets an empty in-memory broker: "search now" then fails with a broker error.
    monkeypatch.setenv("BROKER_BACKEND", "memory")


def test_trader_sees_entries_live_and_uses_the_controls(memory_broker_env, browser, asgi_server):
    UserFactory(username="trader-c", role="trader")
    pk = _in_thread(_condition_with_baseline)
    page = _open(browser, asgi_server, "trader-c", f"/conditions/{pk}/")
    try:
        assert page.locator('#members tr[data-code="005930"]').is_visible()
        page.evaluate("window.__sameDocument = true")

        ids = _in_thread(
            services.realtime_apply,
            pk,
            [
                services.RealtimeChange(
                    "000660",
                    entered=True,
                    at=timezone.now(),
                    name="SK하이닉스",
                    price=180_000,
                    change_rate=Decimal("3.10"),
                )
            ],
        )
        assert len(ids) == 1
        row = page.wait_for_selector(f'#events tr[data-event="{ids[0]}"]', timeout=10_000)
        assert "편입" in row.inner_text() and "실시간" in row.inner_text()
        assert "180,000원" in row.inner_text() and "+3.10%" in row.inner_text()
        member = page.wait_for_selector('#members tr[data-code="000660"]', timeout=10_000)
        assert "SK하이닉스" in member.inner_text()
        page.wait_for_function(
            """() => document.querySelector('#condition-summary [data-field="member_count"]')
                     .textContent === '2'""",
            timeout=10_000,
        )
        assert page.locator(f'#events tr[data-event="{ids[0]}"]').count() == 1  # not duplicated
        assert page.evaluate("window.__sameDocument") is True  # no reload

        # The switch goes through the API and the server state follows.
        page.click('input[data-toggle="notify_exit"]')
        page.wait_for_selector("#cond-message.ok", timeout=10_000)
        assert _in_thread(lambda: Condition.objects.get(pk=pk).notify_exit) is True
        assert page.locator('input[data-toggle="notify_exit"]').is_checked()

        # "Search now" on an empty memory broker: the error is shown and recorded, members unchanged.
        page.click("#search-now")
        page.wait_for_selector("#cond-message.bad", timeout=10_000)
        assert "unknown condition" in page.locator("#cond-message").inner_text()
        assert (
            "unknown condition"
            in page.locator('#condition-summary [data-field="last_error"]').inner_text()
        )
        assert page.locator("#members tr[data-code]").count() == 2
        assert _in_thread(lambda: ConditionEvent.objects.filter(condition_id=pk).count()) == 1
    finally:
        page.context.close()


def test_viewer_sees_live_updates_but_no_controls(browser, asgi_server):
    UserFactory(username="viewer-c", role="viewer")
    pk = _in_thread(_condition_with_baseline)
    page = _open(browser, asgi_server, "viewer-c", f"/conditions/{pk}/")
    try:
        assert page.locator("input[data-toggle]").count() == 0
        assert page.locator("#search-now").count() == 0
        assert page.locator('.switch[data-field="active"] .state').inner_text() == "ON"

        _in_thread(services.condition_update, Condition(pk=pk), active=False)
        page.wait_for_function(
            """() => document.querySelector('.switch[data-field="active"] .state')
                     .textContent === 'OFF'""",
            timeout=10_000,
        )
        # The list page: same, no switches and no sync button.
        page.goto(asgi_server + "/conditions/")
        assert page.locator(f'tr[data-condition="{pk}"]').is_visible()
        assert page.locator("input[data-toggle]").count() == 0
        assert page.locator("#sync-conditions").count() == 0
    finally:
        page.context.close()


def _flapping_condition() -> int:
    from datetime import timedelta

    from apps.conditions.tests.factories import ConditionEventFactory

    cond = Condition.objects.create(seq="301", name="흔들림", active=True)
    t0 = timezone.now() - timedelta(hours=1)
    for i in range(30):
        ConditionEventFactory(
            condition=cond,
            code="005930",
            name="삼성전자",
            kind=("entry", "exit")[i % 2],
            at=t0 + timedelta(seconds=60 * i),
        )
    ConditionEventFactory(condition=cond, code="000660", at=t0)
    return cond.pk


def test_a_flapping_stock_is_one_row_that_opens(browser, asgi_server):
    UserFactory(username="viewer-f", role="viewer")
    pk = _in_thread(_flapping_condition)
    page = _open(browser, asgi_server, "viewer-f", f"/conditions/{pk}/")
    try:
        assert page.locator("tr.flap").count() == 1
        assert page.locator("tr.flap-item:visible").count() == 0
        page.locator(".flap-toggle").click()
        assert page.locator("tr.flap-item:visible").count() == 25  # page 1: the newest 25 events
        page.locator(".flap-toggle").click()
        assert page.locator("tr.flap-item:visible").count() == 0
        assert page.locator('a[rel="next"]').is_visible()
    finally:
        page.context.close()
