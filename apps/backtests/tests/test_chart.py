"""A backtest on the per-stock chart: its markers (API) come from the run's own fills, in the live chart's
shape, and never from or into the live books; its chart page shows them over the stored bars."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from apps.backtests import services
from apps.backtests.models import BacktestFill, BacktestRun
from apps.market.chart import BarClock
from krx import KST

from .test_services import CODE, DAYS, create, stored_bars  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")


@pytest.fixture
def run(stored_bars: None) -> BacktestRun:  # noqa: F811
    done = services.backtest_execute(create().pk)
    assert done.status == "done" and done.trades.exists(), done.error
    return done


def _expected(run: BacktestRun, day: Any) -> list[tuple[str, str, int, Decimal]]:
    """(kind, bar time, quantity, average price) per order and bar minute, from the fills."""
    clock = BarClock(day)
    groups: dict[tuple[Any, Any], list[Any]] = defaultdict(lambda: ["", 0, 0])
    for fill in BacktestFill.objects.filter(run=run, order__code=CODE).select_related("order"):
        if fill.executed_at.astimezone(KST).date() != day:
            continue
        key = (fill.order_id, clock.bar_end(fill.executed_at))
        groups[key][0] = "entry" if fill.order.side == "buy" else "exit"
        groups[key][1] += fill.quantity
        groups[key][2] += fill.amount
    return sorted(
        (kind, end.astimezone(KST).isoformat(), qty, (Decimal(amount) / qty).quantize(CENT))
        for (_, end), (kind, qty, amount) in groups.items()
    )


def test_markers_are_the_runs_fills_per_order_and_minute(api_client: Any, viewer: Any, run) -> None:
    api_client.force_authenticate(viewer)
    first_day = min(t.date for t in run.trades.all())
    body = api_client.get(f"/api/v1/backtests/{run.pk}/markers/{CODE}").json()
    assert (
        body["date"] == first_day.isoformat() and body["backtest"] == run.pk
    )  # the first day traded
    got = sorted(
        (
            m["kind"],
            m["time"],
            m["quantity"],
            Decimal(m["price"]),
        )
        for m in body["markers"]
    )
    assert got == _expected(run, first_day)
    assert {m["kind"] for m in body["markers"]} == {"entry", "exit"}
    assert all(
        m["order_url"].endswith(f"/backtests/{run.pk}/#backtest-trades") for m in body["markers"]
    )
    for day in DAYS:  # every day: the markers are exactly the fills of that day
        body = api_client.get(f"/api/v1/backtests/{run.pk}/markers/{CODE}?date={day}").json()
        assert len(body["markers"]) == len(_expected(run, day))


def test_the_live_charts_markers_do_not_include_a_backtests_fills(
    api_client: Any, viewer: Any, run
) -> None:
    api_client.force_authenticate(viewer)
    for day in DAYS:
        live = api_client.get(f"/api/v1/market/chart/{CODE}/markers?date={day}").json()
        assert live["markers"] == []


def test_bad_run_and_bad_date_are_clear(api_client: Any, viewer: Any, run) -> None:
    api_client.force_authenticate(viewer)
    assert api_client.get(f"/api/v1/backtests/999999/markers/{CODE}").status_code == 404
    bad = api_client.get(f"/api/v1/backtests/{run.pk}/markers/{CODE}?date=2025-13-01")
    assert bad.status_code == 400 and "date" in bad.json()["detail"]
    api_client.force_authenticate(None)
    assert api_client.get(f"/api/v1/backtests/{run.pk}/markers/{CODE}").status_code in (401, 403)


def test_the_chart_page_draws_the_runs_markers_over_the_stored_bars(
    viewer_client: Any, run
) -> None:
    days = sorted({t.date for t in run.trades.all()})
    page = viewer_client.get(f"/backtests/{run.pk}/chart/{CODE}/")
    assert page.status_code == 200
    html = page.content.decode()
    config = json.loads(
        html.split('id="chart-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["markersUrl"] == f"/api/v1/backtests/{run.pk}/markers/{CODE}"
    assert config["liveMarkers"] is False and config["explicitDate"] is True
    assert config["date"] == days[0].isoformat()
    assert config["barsUrl"] == f"/api/v1/market/chart/{CODE}"
    assert 'id="chart-overlay"' in html and f"/backtests/{run.pk}/" in html
    for day in days:
        assert f'href="?date={day.isoformat()}"' in html
    other = viewer_client.get(f"/backtests/{run.pk}/chart/{CODE}/?date={DAYS[-1]}")
    assert (
        json.loads(
            other.content.decode()
            .split('id="chart-config" type="application/json">')[1]
            .split("</script>")[0]
        )["date"]
        == DAYS[-1].isoformat()
    )
    assert viewer_client.get(f"/backtests/999999/chart/{CODE}/").status_code == 404
    assert viewer_client.get(f"/backtests/{run.pk}/chart/{CODE}/?date=nope").status_code == 400


def test_the_detail_pages_trades_link_to_the_chart(viewer_client: Any, run) -> None:
    html = viewer_client.get(f"/backtests/{run.pk}/").content.decode()
    trade = run.trades.first()
    assert f'href="/backtests/{run.pk}/chart/{CODE}/?date={trade.date.isoformat()}"' in html
