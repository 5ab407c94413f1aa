"""The emergency-sell endpoint, the page's partial and `manage.py flatten` without a broker: roles, the
one-run guarantee (same key, double click, concurrent requests), the trading gate closed with a reason."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.urls import reverse

from apps.core.models import RuntimeFlag, RuntimeFlagEvent
from apps.core.tests.factories import RuntimeFlagFactory
from apps.risk.services.liquidation import liquidation_current, liquidation_request

pytestmark = pytest.mark.django_db

URL = "/api/v1/risk/emergency-sell"


@pytest.fixture
def gate_open(db) -> RuntimeFlag:
    flag = RuntimeFlagFactory(key="trading-enabled")
    RuntimeFlag.objects.filter(pk=flag.pk).update(enabled=True)
    return flag


def test_url_name() -> None:
    assert reverse("api-risk-emergency-sell") == URL


def test_viewer_cannot_liquidate(api_client, viewer, gate_open) -> None:
    api_client.force_authenticate(viewer)
    response = api_client.post(URL, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 403
    assert liquidation_current() is None
    assert RuntimeFlag.objects.get(key="trading-enabled").enabled  # nothing changed
    assert api_client.get(URL).status_code == 404  # a viewer may read: there is nothing yet


def test_anonymous_cannot_liquidate(api_client) -> None:
    assert api_client.post(URL, {}, format="json").status_code in (401, 403)


def test_trader_starts_one_run_and_closes_the_gate(
    api_client, trader, gate_open, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    queued: list[str] = []
    from apps.risk import tasks

    monkeypatch.setattr(tasks.liquidate, "delay", lambda run_id: queued.append(run_id))
    api_client.force_authenticate(trader)
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(URL, {"reason": "급락"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 202
    run = first.json()
    assert (
        run["status"] == "queued" and run["reason"] == "급락" and run["requested_by"] == "trader1"
    )
    assert queued == [run["id"]]
    flag = RuntimeFlag.objects.get(key="trading-enabled")
    assert not flag.enabled
    event = RuntimeFlagEvent.objects.filter(flag=flag).latest("pk")
    assert "비상 전체 청산" in event.reason and "급락" in event.reason
    # The same key again (a client retry): the same run, nothing queued.
    with django_capture_on_commit_callbacks(execute=True):
        again = api_client.post(URL, {"reason": "급락"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 200 and again.json()["id"] == run["id"]
    # Another key (a second page) while the run is active: still the same run.
    with django_capture_on_commit_callbacks(execute=True):
        other = api_client.post(URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert other.status_code == 200 and other.json()["id"] == run["id"]
    assert queued == [run["id"]]
    assert api_client.get(URL).json()["id"] == run["id"]


def test_a_too_long_key_is_refused(api_client, trader) -> None:
    api_client.force_authenticate(trader)
    response = api_client.post(URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 101)
    assert response.status_code == 400
    assert liquidation_current() is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_make_one_run(trader, monkeypatch) -> None:
    from apps.risk import tasks

    monkeypatch.setattr(tasks.liquidate, "delay", lambda run_id: None)
    RuntimeFlagFactory(key="trading-enabled", enabled=True)
    barrier = threading.Barrier(6)
    runs: list[tuple[str, bool]] = []

    def press(i: int) -> None:
        try:
            barrier.wait()
            run, created = liquidation_request(trader, "동시", f"concurrent-{i}")
            runs.append((run.id, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(runs) == 6
    assert len({run_id for run_id, _ in runs}) == 1
    assert sum(created for _, created in runs) == 1


def test_partial_on_the_positions_page(client, trader, viewer) -> None:
    client.force_login(trader)
    page = client.get("/positions/").content.decode()
    assert 'id="emergency-sell-start"' in page and 'data-key="' in page
    assert "risk/emergency_sell.js" in page
    client.force_login(viewer)
    viewer_page = client.get("/positions/").content.decode()
    assert 'id="emergency-sell"' in viewer_page
    assert 'id="emergency-sell-start"' not in viewer_page
    assert 'id="emergency-sell-viewer"' in viewer_page


def test_a_request_that_loses_the_lock_race_joins_the_winner(
    trader, gate_open, monkeypatch
) -> None:
    """The window of the old race, made deterministic: another request takes the lock between our
    record and our lock. We must join its run, not take the lock over as if it had expired."""
    from apps.risk.services import liquidation as liq

    winner, created = liquidation_request(trader, "first", enqueue=False)
    assert created
    client = liq._redis()
    try:
        client.delete(liq._key("active", winner.account))  # as if the winner had not locked yet
        real_take = liq._take_lock

        def take_after_the_winner(c, account, run_id, ttl):  # type: ignore[no-untyped-def]
            c.set(liq._key("active", account), winner.id, ex=ttl)  # the winner locks first
            return real_take(c, account, run_id, ttl)

        monkeypatch.setattr(liq, "_take_lock", take_after_the_winner)
        run, created = liquidation_request(trader, "second", enqueue=False)
        assert (run.id, created) == (winner.id, False)
        assert client.get(liq._key("active", winner.account)).decode() == winner.id
    finally:
        client.close()


def test_a_lock_whose_run_expired_is_taken_over(trader, gate_open) -> None:
    from apps.risk.services import liquidation as liq

    client = liq._redis()
    try:
        account = liq.default_account()
        client.set(liq._key("active", account), "gone", ex=60)  # its run record expired
        run, created = liquidation_request(trader, "again", enqueue=False)
        assert created and run.id != "gone"
        assert client.get(liq._key("active", account)).decode() == run.id
    finally:
        client.close()
