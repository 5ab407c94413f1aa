"""Backtest runs side by side: parameters, metrics with the best marked, return curves; what cannot be
compared is refused with the reason."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from apps.backtests import services
from apps.backtests.compare import CompareInvalid, compare_runs, parse_ids
from apps.backtests.models import BacktestRun

from .test_services import DAYS, create, stored_bars  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(stored_bars: None) -> list[BacktestRun]:  # noqa: F811
    runs = [
        services.backtest_execute(create(overrides={"fast": "5", "slow": "20"}).pk),
        services.backtest_execute(create(overrides={"fast": "3", "slow": "30"}).pk),
    ]
    assert all(r.status == "done" for r in runs), [r.error for r in runs]
    return runs


def test_two_runs_side_by_side(viewer_client: Any, two: list[BacktestRun]) -> None:
    a, b = two
    cmp = compare_runs([a.pk, b.pk])
    assert [r.pk for r in cmp.runs] == [a.pk, b.pk]
    params = dict(cmp.params)
    assert params["fast"] == [5, 3] and params["slow"] == [20, 30]
    rows = {m.key: m for m in cmp.metrics}
    returns = [Decimal(str(r.metrics["return_pct"])) for r in (a, b)]
    if returns[0] != returns[1]:
        assert rows["return_pct"].best == [r == max(returns) for r in returns]
    drawdowns = [Decimal(str(r.metrics["max_drawdown_pct"])) for r in (a, b)]
    if drawdowns[0] != drawdowns[1]:
        assert rows["max_drawdown_pct"].best == [d == min(drawdowns) for d in drawdowns]
    assert rows["total_trades"].best == [False, False]  # not ranked
    for run, curve in zip((a, b), cmp.curves, strict=True):
        assert curve["id"] == run.pk and len(curve["points"]) == len(DAYS)
        last = Decimal(curve["points"][-1]["return_pct"])
        start = run.metrics["start_equity"]
        assert last == (Decimal(run.metrics["final_equity"] - start) * 100 / start).quantize(
            Decimal("0.01")
        )

    page = viewer_client.get(f"/backtests/compare/?ids={a.pk}&ids={b.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="compare-table"' in html and f'href="/backtests/{a.pk}/"' in html
    assert 'data-param="fast"' in html and 'data-k="win_rate"' in html
    curves = json.loads(html.split('id="compare-curves" type="application/json">')[1].split("<")[0])
    assert [c["id"] for c in curves] == [a.pk, b.pk]
    # The list offers the finished runs for comparison.
    listing = viewer_client.get("/backtests/").content.decode()
    assert f'name="ids" value="{a.pk}"' in listing and 'id="backtest-compare-form"' in listing


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ([], "2"),
        (["1"], "2"),
        (["1,2,3,4,5,6,7"], "6"),
        (["1", "x"], "x"),
    ],
)
def test_ids_that_cannot_be_compared_are_refused(raw: list[str], needle: str) -> None:
    with pytest.raises(CompareInvalid) as exc:
        parse_ids(raw)
    assert needle in str(exc.value)


def test_unknown_and_unfinished_runs_are_named(viewer_client: Any, two: list[BacktestRun]) -> None:
    queued = create()
    page = viewer_client.get(f"/backtests/compare/?ids={two[0].pk}&ids=999999")
    assert page.status_code == 400 and "#999999" in page.content.decode()
    page = viewer_client.get(f"/backtests/compare/?ids={two[0].pk},{queued.pk}")
    assert page.status_code == 400 and f"#{queued.pk}" in page.content.decode()
    assert parse_ids(["3 4", "3"]) == [3, 4]  # spaces, commas and repeats
