"""Lists at real size (issue 17): the risk page (config history, state journal) and the config history API
make as many queries for 30 versions as for 3 (both lists are bounded: the newest 50 / 200)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.tests.querycount import assert_flat_queries
from apps.risk.models import RiskConfig, RiskStateEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "ceiling"), [(reverse("risk:page"), 30), (reverse("api-risk-config-history"), 6)]
)
def test_risk_lists(trader, trader_client, django_assert_max_num_queries, url, ceiling) -> None:
    def grow(start: int, n: int) -> None:
        for version in range(start, start + n):
            RiskConfig.objects.create(version=version, author=trader)
            RiskStateEvent.objects.create(
                from_state="active", to_state="halted", cause="trader", author=trader
            )

    top = RiskConfig.objects.order_by("-version").values_list("version", flat=True).first() or 0
    grow(top + 1, 3)
    assert_flat_queries(
        lambda: trader_client.get(url),
        lambda: grow(top + 4, 27),
        ceiling,
        django_assert_max_num_queries,
    )
