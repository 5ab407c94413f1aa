"""Lists at real size (issue 17): the conditions pages and APIs make as many queries for 30 rows as for 3."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.conditions.tests.factories import (
    ConditionEventFactory,
    ConditionFactory,
    ConditionMemberFactory,
)
from apps.core.tests.querycount import assert_flat_queries

pytestmark = pytest.mark.django_db


def _conditions(n: int) -> None:
    for _ in range(n):
        cond = ConditionFactory()
        ConditionMemberFactory(condition=cond)
        ConditionEventFactory(condition=cond)


@pytest.mark.parametrize(
    ("url", "ceiling"), [(reverse("conditions:list"), 10), (reverse("api-conditions"), 6)]
)
def test_condition_lists(trader_client, django_assert_max_num_queries, url, ceiling) -> None:
    _conditions(3)
    assert_flat_queries(
        lambda: trader_client.get(url),
        lambda: _conditions(27),
        ceiling,
        django_assert_max_num_queries,
    )


@pytest.mark.parametrize(
    ("name", "ceiling"),
    [
        ("conditions:detail", 14),
        ("api-condition-events", 6),
        ("api-conditions-events", 6),
        ("api-condition-results", 8),
    ],
)
def test_one_condition_lists(trader_client, django_assert_max_num_queries, name, ceiling) -> None:
    cond = ConditionFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            ConditionEventFactory(condition=cond)
            ConditionEventFactory(condition=cond, kind="exit")
            ConditionMemberFactory(condition=cond)

    grow(3)
    url = reverse(name) if name == "api-conditions-events" else reverse(name, args=[cond.pk])
    assert_flat_queries(
        lambda: trader_client.get(url), lambda: grow(27), ceiling, django_assert_max_num_queries
    )


def test_events_api_counts_are_capped(trader_client, settings) -> None:
    settings.LIST_COUNT_CAP = 4
    for _ in range(6):
        ConditionEventFactory()
    body = trader_client.get(reverse("api-conditions-events"), {"page_size": 2}).json()
    assert body["count"] == 4 and body["count_exact"] is False


def test_admin_event_changelist_does_not_grow(admin_client, django_assert_max_num_queries) -> None:
    _conditions(3)
    url = reverse("admin:conditions_conditionevent_changelist")
    assert_flat_queries(
        lambda: admin_client.get(url), lambda: _conditions(27), 12, django_assert_max_num_queries
    )
