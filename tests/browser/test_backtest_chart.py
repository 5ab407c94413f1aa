"""A finished backtest's per-stock candle chart in headless Chromium: from a trade on the run's page to
`/backtests/<id>/chart/<code>/`, where the vendored library draws the stored bars the run replayed and the
run's own entries and exits (the same markers the API gives, from the run's fills, not the live books)."""

from __future__ import annotations

import pytest

from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_trade_of_a_backtest_opens_its_chart_with_the_runs_entries_and_exits(
    browser, asgi_server
) -> None:
    from apps.backtests import services
    from apps.backtests.chart import backtest_markers
    from apps.backtests.tests.test_services import CODE, create
    from tests.browser.test_backtest_page import _store_bars

    _store_bars()
    run = services.backtest_execute(create().pk)
    assert run.status == "done" and run.trades.exists(), run.error
    trade = run.trades.order_by("exit_time").first()
    expected = backtest_markers(run, CODE, trade.date)["markers"]
    assert expected
    UserFactory(username="viewer-btc", role="viewer")

    page = browser.new_page()
    detail = asgi_server + f"/backtests/{run.pk}/"
    page.goto(detail)
    page.fill("input[name=username]", "viewer-btc")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(detail)
    page.locator("#backtest-trades a.chart-link").first.click()
    page.wait_for_url(f"**/backtests/{run.pk}/chart/{CODE}/?date={trade.date.isoformat()}")
    page.wait_for_selector("#chart[data-state=ready]", timeout=15_000)

    chart = page.locator("#chart")
    assert int(chart.get_attribute("data-bars") or 0) > 0
    assert chart.get_attribute("data-markers") == str(len(expected))  # each sits on a bar
    rows = page.locator("#markers tbody tr.marker")
    assert rows.count() == len(expected)
    kinds = rows.evaluate_all("rs => rs.map(r => r.dataset.kind)")
    assert kinds == [m["kind"] for m in expected] and set(kinds) <= {"entry", "exit"}
    assert "entry" in kinds
    assert page.locator("#chart-overlay").is_visible()
    page.locator("#chart-overlay a").first.click()  # back to the run
    page.wait_for_url(detail)
    page.close()
