"""Lists at real size (issue 17): the account settings page, the accounts API and the positions API make as
many queries for 30 rows as for 3."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import (
    BalanceSnapshotFactory,
    BrokerAccountFactory,
    HoldingSnapshotFactory,
)
from apps.core.tests.querycount import assert_flat_queries
from apps.trades.tests.factories import PositionFactory

pytestmark = pytest.mark.django_db


def _grow(snapshot, start: int, n: int) -> None:
    for i in range(start, start + n):
        BrokerAccountFactory(account_no=f"9{i:09d}")
        PositionFactory(code=f"{i:06d}", account_no=snapshot.account.account_no)
        HoldingSnapshotFactory(snapshot=snapshot, code=f"{i:06d}")


@pytest.mark.parametrize(
    ("url", "ceiling"),
    [
        (reverse("accounts:settings"), 20),
        (reverse("api-accounts"), 6),
        (reverse("api-account-positions"), 8),
    ],
)
def test_account_lists(trader_client, django_assert_max_num_queries, url, ceiling) -> None:
    snapshot = BalanceSnapshotFactory()
    _grow(snapshot, 1, 3)
    assert_flat_queries(
        lambda: trader_client.get(url),
        lambda: _grow(snapshot, 4, 27),
        ceiling,
        django_assert_max_num_queries,
    )
