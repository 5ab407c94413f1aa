"""The reports page in headless Chromium against a real Daphne server: from a seeded month of trades it
draws the daily return, cumulative return (with KOSPI) and drawdown charts, and shows the patterns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.core.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.reports.tests.conftest import make_trade
from apps.reports.tests.factories import IndexBarFactory
from krx import calendar as krx_calendar
from tests.browser.conftest import asgi_server, browser  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHARTS = ("chart-daily", "chart-cumulative", "chart-drawdown")


def seed_month() -> list[dt.date]:
    days = krx_calendar.trading_days(dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    for i, day in enumerate(days):
        make_trade(
            day,
            15_000 if i % 3 else -9_000,
            "1.5" if i % 3 else "-0.9",
            news_score=80,
            volume_rank=2,
            strategy_tag="leader",
        )
        make_trade(
            day,
            -3_000 if i % 2 else 4_000,
            "-0.3" if i % 2 else "0.4",
            entry=(13, 0),
            exit=(14, 10),
            strategy_tag="cond",
        )
        IndexBarFactory(index_code="KS11", date=day, close=Decimal(2500 + 5 * i))
    return days


def test_reports_page_renders_its_charts(browser, asgi_server, settings):  # noqa: F811
    days = seed_month()
    UserFactory(username="reports-b", role="viewer")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.goto(asgi_server + "/reports/?from=2025-02-01&to=2025-02-28")
        page.fill("input[name=username]", "reports-b")
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#chart-drawdown")
        page.wait_for_function("() => window.STOCKAGENT_REPORT_CHARTS !== undefined")
        shape = page.evaluate(
            """() => Object.fromEntries(Object.entries(window.STOCKAGENT_REPORT_CHARTS).map(
                 ([id, c]) => [id, {labels: c.data.labels.length,
                                    sets: c.data.datasets.map(d => d.data.length),
                                    width: c.width}]))"""
        )
        assert set(shape) == set(CHARTS)
        for chart_id in CHARTS:
            assert shape[chart_id]["labels"] == len(days)
            assert shape[chart_id]["width"] > 0
        assert shape["chart-cumulative"]["sets"] == [len(days), len(days)]  # ours and KOSPI
        for chart_id in CHARTS:  # something was painted on each canvas
            painted = page.evaluate(
                """(id) => { const c = document.getElementById(id);
                     const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                     let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) n++; return n; }""",
                chart_id,
            )
            assert painted > 500, chart_id
        assert page.locator("#reports-summary td[data-k=total_trades]").inner_text() == str(
            2 * len(days)
        )
        assert (
            page.locator("#best-pattern").inner_text()
            == "leader|news:70+|rank:1-3|time:09:00-09:30"
        )
        assert page.locator("#pattern-table tbody tr").count() == 2
    finally:
        page.close()
