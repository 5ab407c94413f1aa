"""Lists at real size (issue 17): the reports page and the reports APIs make as many queries for 30 reports
(and 30 days of metrics) as for 3, and the reports list's limit is bounded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse

from apps.core.tests.querycount import assert_flat_queries
from apps.reports.models import LearningMetrics, Report

pytestmark = pytest.mark.django_db
DAY = dt.date(2025, 3, 31)


def _grow(start: int, n: int) -> None:
    for i in range(start, start + n):
        day = DAY - dt.timedelta(days=i)
        Report.objects.create(
            account_no=settings.KIWOOM_ACCOUNT,
            kind="daily",
            period_start=day,
            period_end=day,
            title=f"r{i}",
        )
        LearningMetrics.objects.create(account_no=settings.KIWOOM_ACCOUNT, date=day)


@pytest.mark.parametrize(
    ("url", "ceiling"),
    [
        (reverse("reports:page") + "?from=2025-01-01&to=2025-03-31", 14),
        (reverse("api-reports-daily"), 6),
        (reverse("api-reports-metrics") + "?from=2025-01-01&to=2025-03-31", 10),
    ],
)
def test_report_lists(trader_client, django_assert_max_num_queries, url, ceiling) -> None:
    _grow(0, 3)
    assert_flat_queries(
        lambda: trader_client.get(url), lambda: _grow(3, 27), ceiling, django_assert_max_num_queries
    )


def test_reports_limit_is_bounded(trader_client) -> None:
    _grow(0, 3)
    body = trader_client.get(reverse("api-reports-daily"), {"limit": 100_000}).json()
    assert body["count"] == 3 and body["count_exact"] is True
