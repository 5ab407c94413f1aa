"""A backtest launched from the page in Chromium, run by a real Celery worker (`-Q reports`) over handmade
stored bars: the detail page polls the API, its progress bar reaches 100 % and the metrics, the equity
chart and the trades appear; a queued run is cancelled from its page (the worker then leaves it alone); a viewer sees the run but no launch form and no cancel button."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _store_bars() -> list:
    from apps.backtests.tests.bars import path_bars, wave
    from apps.backtests.tests.test_services import CODE, DAYS
    from apps.market.models import MinuteBar
    from apps.market.tests.factories import InstrumentFactory, MinuteBarFactory

    InstrumentFactory(code=CODE, name="삼성전자")
    MinuteBar.objects.bulk_create(
        [
            MinuteBarFactory.build(
                instrument_id=CODE, time=b.end, open=b.open, high=b.high, low=b.low,
                close=b.close, volume=b.volume,
            )
            for day in DAYS
            for b in path_bars(CODE, wave(), day)
        ]
    )  # fmt: skip
    return DAYS


def _worker(log: Path) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="stockagent.settings_test",
        DATABASE_URL=(
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}"
            f":{db['PORT'] or 5432}/{db['NAME']}"
        ),
        REDIS_URL=settings.REDIS_URL,
    )
    env.pop("TEST_DATABASE_NAME", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "stockagent", "worker", "-P", "solo", "-Q", "reports",
         "-l", "INFO", "-n", f"btui-{os.getpid()}@%h", "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _login(page, url: str, username: str) -> None:
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url)


def test_a_backtest_launched_from_the_page_finishes_with_live_progress(
    browser, asgi_server, tmp_path: Path
) -> None:
    from apps.backtests.models import BacktestRun
    from apps.conditions.tests.live_support import wait_until
    from stockagent.celery import app as celery_app

    days = _store_bars()
    UserFactory(username="trader-bt", role="trader")
    UserFactory(username="viewer-bt", role="viewer")
    celery_app.control.purge()  # nothing stale from an earlier run reaches the worker
    log = tmp_path / "worker.log"
    worker = None
    page = browser.new_page()

    def launch() -> None:
        page.goto(asgi_server + "/backtests/")
        page.select_option("select[name=strategy]", "ma_cross")
        page.fill("input[name=date_from]", str(days[0]))
        page.fill("input[name=date_to]", str(days[-1]))
        page.fill("input[name=codes]", "005930")
        page.fill("textarea[name=params]", "fast=5\nslow=20")
        page.click("#backtest-launch-btn")
        page.wait_for_url("**/backtests/*/")

    try:
        _login(page, asgi_server + "/backtests/", "trader-bt")
        # No worker yet: the run waits in the queue; cancelling it from its page ends it at once.
        launch()
        first = BacktestRun.objects.get()
        assert page.locator("#backtest-status").get_attribute("data-status") == "queued"
        page.click("#backtest-cancel button")
        page.wait_for_selector('#backtest-status[data-status="cancelled"]', timeout=15_000)
        assert page.locator("#backtest-cancel").count() == 0
        worker = _worker(log)
        assert wait_until(lambda: b" ready." in log.read_bytes(), timeout=120), log.read_text()
        launch()
        run = BacktestRun.objects.exclude(pk=first.pk).get()
        assert page.url.endswith(f"/backtests/{run.pk}/")
        assert page.locator("#backtest-bar").count() == 1
        # The page polls the API and reloads when the run is final: then the metrics are there.
        page.wait_for_selector("#backtest-metrics", timeout=120_000)
        run.refresh_from_db()
        assert run.status == "done", (run.error, log.read_text(errors="replace")[-3000:])
        assert page.locator("#backtest-status").get_attribute("data-status") == "done"
        assert page.locator("#backtest-bar").get_attribute("value") == "100"
        cell = page.locator('#backtest-metrics td[data-k="total_trades"]').inner_text()
        assert int(cell) == run.metrics["total_trades"] == run.trades.count() > 0
        assert page.locator("#backtest-trades tbody tr").count() == run.trades.count()
        page.wait_for_function("window.STOCKAGENT_BACKTEST_CHART !== undefined", timeout=10_000)
        points = page.evaluate("window.STOCKAGENT_BACKTEST_CHART.data.datasets[0].data.length")
        assert points == len(days)

        viewer = browser.new_page()
        try:
            _login(viewer, asgi_server + "/backtests/", "viewer-bt")
            assert viewer.locator("#backtest-form").count() == 0
            assert viewer.locator(f'tr[data-run="{run.pk}"][data-status="done"]').count() == 1
        finally:
            viewer.close()
    finally:
        page.close()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
    first.refresh_from_db()
    assert first.status == "cancelled" and first.bars == 0  # the worker got it and left it alone
