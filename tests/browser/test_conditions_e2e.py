"""Done-when 1 of the condition issue, end to end: the simulator running at speed pushes 02 frames, the realtime
process (in a thread here) records them, and the entry shows on the trader's page over /ws/live, in the events
API and at a local fake Slack endpoint. (Latency is measured by bench/conditions_latency.py, not asserted.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.conditions import services
from apps.conditions.models import Condition, ConditionEvent
from apps.conditions.tests.live_support import (
    at,
    in_thread,
    realtime_hub,
    simulated_broker,
    wait_until,
)
from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.notifications.tests.factories import SlackChannelFactory
from apps.notifications.tests.fakes import FakeHTTPServer
from stockagent.celery import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def fake_slack() -> Iterator[FakeHTTPServer]:
    server = FakeHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def eager() -> Iterator[None]:
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


def entries(condition_id: int) -> list[str]:
    return sorted(
        ConditionEvent.objects.filter(condition_id=condition_id, kind="entry").values_list(
            "code", flat=True
        )
    )


def test_entry_reaches_page_api_and_slack(
    browser, asgi_server, tmp_path, fake_slack, eager
) -> None:
    trader = UserFactory(username="trader-e2e", role="trader")
    SlackChannelFactory(
        user=trader, secret=f"{fake_slack.url}/hook", event_kinds=["condition.entry"]
    )
    with (
        simulated_broker(tmp_path, start=at("09:05:00")) as (sim, broker),
        realtime_hub(broker) as rt,
    ):
        cond = Condition.objects.get(seq="1")
        in_thread(services.condition_update, cond, realtime=True)
        wait_until(lambda: "1" in rt.conditions.subscribed)

        page = browser.new_context().new_page()
        path = f"/conditions/{cond.pk}/"
        page.goto(asgi_server + path)
        page.fill("input[name=username]", "trader-e2e")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(asgi_server + path)
        page.wait_for_selector("#live-indicator.on", timeout=10_000)
        assert page.locator("#members tr[data-code]").count() == 0  # nothing matches before 09:06
        page.evaluate("window.__sameDocument = true")

        # The exchange runs at 60x from here: 09:06, when the formula starts matching, is a second away.
        sim.call(lambda: sim.server.clock.set(sim.now(), speed=60))
        codes = wait_until(lambda: entries(cond.pk), timeout=30)
        sim.call(lambda: sim.server.clock.set(sim.now(), speed=0))

        for code in codes:
            page.wait_for_selector(f'#members tr[data-code="{code}"]', timeout=10_000)
        feed = page.locator("#events")
        for code in codes:
            assert feed.locator("tr", has_text=code).count() == 1
        assert page.evaluate("window.__sameDocument") is True  # updated live, no reload

        reply = page.request.get(f"{asgi_server}/api/v1/conditions/{cond.pk}/events?kind=entry")
        assert reply.ok
        body = reply.json()
        assert sorted(e["code"] for e in body["results"]) == codes
        assert {e["source"] for e in body["results"]} == {"realtime"}

        assert fake_slack.wait_for(1)
        text = " ".join(r.body["text"] for r in fake_slack.requests)
        assert "대형주 6분 경과" in text and all(code in text for code in codes)
        page.close()
