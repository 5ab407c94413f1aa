"""A 20-trial tuning run launched from the page in Chromium, its trials run by a real Celery worker
(`-Q reports`, one task per trial fanned out as a group) over handmade stored bars: the run page polls the
API, its progress bar (finished trials / all trials) reaches 100 % and the out-of-sample headline, the
per-window choice, the heat map and the results appear. Then a larger run is cancelled from its page
while the worker is busy with it: the trials not yet started are skipped, the running one stops, and the
run ends cancelled with fewer trials done than launched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps.core.tests.factories import UserFactory

from .test_backtest_page import _login, _worker

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_tuning_run_launched_from_the_page_finishes_and_a_cancel_stops_the_trials(
    browser, asgi_server, tmp_path: Path
) -> None:
    from apps.backtests.models import TuningRun
    from apps.backtests.tests.tuning_support import CODE, store_bars
    from apps.conditions.tests.live_support import wait_until
    from stockagent.celery import app as celery_app

    days = store_bars()
    UserFactory(username="trader-tu", role="trader")
    celery_app.control.purge()
    log = tmp_path / "worker.log"
    worker = _worker(log)
    page = browser.new_page()

    def launch(ranges: str) -> TuningRun:
        page.goto(asgi_server + "/backtests/tuning/")
        page.select_option("select[name=strategy]", "ma_cross")
        page.fill("input[name=date_from]", str(days[0]))
        page.fill("input[name=date_to]", str(days[-1]))
        page.fill("input[name=codes]", CODE)
        page.fill("textarea[name=ranges]", ranges)
        page.select_option("select[name=objective]", "total_pnl")
        page.fill("input[name=in_sample_days]", "2")
        page.fill("input[name=out_sample_days]", "1")
        page.click("#tuning-launch-btn")
        page.wait_for_url("**/backtests/tuning/*/")
        return TuningRun.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))

    try:
        _login(page, asgi_server + "/backtests/tuning/", "trader-tu")
        assert wait_until(lambda: b" ready." in log.read_bytes(), timeout=120), log.read_text()
        run = launch("fast=3,5\nslow=10..30:5")  # 10 sets × 2 walk-forward windows
        assert run.trials_total == 20
        assert page.locator("#tuning-bar").count() == 1
        # The page polls the API and reloads when the run is final: then the results are there.
        page.wait_for_selector("#tuning-headline", timeout=180_000)
        run.refresh_from_db()
        assert run.status == "done", (run.error, log.read_text(errors="replace")[-3000:])
        assert page.locator("#tuning-status").get_attribute("data-status") == "done"
        assert page.locator("#tuning-bar").get_attribute("value") == "100"
        assert page.locator("#tuning-count").inner_text() == "20 / 20"
        assert page.locator('#tuning-trials tr[data-status="done"]').count() == 20
        assert page.locator("#tuning-windows tr[data-window]").count() == 2
        assert page.locator("#tuning-heatmap td.heat-cell").count() == 10
        value = page.locator('#tuning-headline td[data-k="value"]').inner_text()
        assert value == run.result["headline"]["value"]
        assert run.trials.exclude(worker="").count() == 20  # written by the worker process

        # A larger run: cancelled from its page once the worker has finished a trial of it.
        big = launch("fast=2..9\nslow=12..40:4")  # 8 × 8 sets × 2 windows
        assert big.trials_total == 128
        assert wait_until(lambda: big.trials.filter(status="done").exists(), timeout=120)
        page.click("#tuning-cancel button")
        page.wait_for_selector("#tuning-status[data-status='cancelled']", timeout=30_000)
        page.wait_for_selector('#tuning-progress[data-final="1"]', timeout=60_000)
        big.refresh_from_db()
        assert big.status == "cancelled" and big.finished_at is not None
        assert wait_until(
            lambda: not big.trials.filter(status__in=("queued", "running")).exists(), timeout=60
        )
        done = big.trials.filter(status="done").count()
        assert 0 < done < 128
        skipped = big.trials.filter(status="cancelled")
        assert skipped.count() + done + big.trials.filter(status="failed").count() == 128
        assert all(not t.is_metrics for t in skipped)  # a cancelled trial stores no result
        # The worker drains the skipped trials' tasks without running them (no bars replayed).
        assert wait_until(lambda: skipped.filter(bars=0).count() >= skipped.count() - 1, timeout=60)
    finally:
        page.close()
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
