"""Lists at real size (issue 17): the strategy page (signals, config history), the config history API, the
scanner page and API, and the overview's signal feed make as many queries for 30 rows as for 3."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from apps.core.tests.querycount import assert_flat_queries
from apps.strategy.models import StrategyConfig
from apps.strategy.tests.factories import SignalFactory
from apps.strategy.tests.scanner_factories import snapshot_with_rows
from apps.trades.tests.factories import OrderFactory
from krx import KST

pytestmark = pytest.mark.django_db


def _grow(trader, start: int, n: int) -> None:
    for i in range(start, start + n):
        for name in ("opening_breakout", "condition_entry"):
            StrategyConfig.objects.create(
                strategy=name,
                version=100 + i,
                budget_krw=1_000_000 + i,
                params={"x": i},
                author=trader,
            )
        SignalFactory(key=f"k{i}", code=f"{i:06d}", order=OrderFactory(code=f"{i:06d}"))


@pytest.mark.parametrize(
    ("url", "ceiling"),
    [
        (reverse("strategy:page"), 30),
        (reverse("api-strategy-config-history"), 6),
        (reverse("api-strategy-config-history") + "?strategy=opening_breakout", 6),
        (reverse("home"), 15),  # as apps/core/tests/test_overview.py OVERVIEW_QUERIES
    ],
)
def test_strategy_lists(trader, trader_client, django_assert_max_num_queries, url, ceiling) -> None:
    _grow(trader, 1, 3)
    assert_flat_queries(
        lambda: trader_client.get(url),
        lambda: _grow(trader, 4, 27),
        ceiling,
        django_assert_max_num_queries,
    )


@pytest.mark.parametrize(
    ("url", "ceiling"),
    [(reverse("scanner:page"), 12), (reverse("api-scanner-top"), 6)],
)
def test_scanner_lists(trader_client, django_assert_max_num_queries, url, ceiling) -> None:
    start = dt.datetime.now(KST).replace(hour=9, minute=0, second=5, microsecond=0)

    def grow(first: int, n: int) -> None:
        for i in range(first, first + n):
            snapshot_with_rows(
                start + dt.timedelta(seconds=30 * i), [f"{i * 100 + k:06d}" for k in range(n)]
            )

    grow(0, 3)
    assert_flat_queries(
        lambda: trader_client.get(url), lambda: grow(3, 27), ceiling, django_assert_max_num_queries
    )
