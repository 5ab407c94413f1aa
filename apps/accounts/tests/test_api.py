"""The accounts API: balance and positions (seed 004 §8.2), accounts with write-only keys, role checks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.models import BrokerAccount
from apps.accounts.tests.factories import (
    BalanceSnapshotFactory,
    BrokerAccountFactory,
    HoldingSnapshotFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader_api(api_client, trader):
    api_client.force_authenticate(trader)
    return api_client


@pytest.fixture
def viewer_api(api_client, viewer):
    api_client.force_authenticate(viewer)
    return api_client


def test_balance_needs_login(api_client) -> None:
    assert api_client.get(reverse("api-account-balance")).status_code in (401, 403)


def test_balance_of_the_active_account(viewer_api) -> None:
    assert viewer_api.get(reverse("api-account-balance")).status_code == 404
    snap = BalanceSnapshotFactory(cash=12_345_678, total_evaluation=2_000_000, day_profit_loss=-500)
    BalanceSnapshotFactory(account=snap.account, taken_at=snap.taken_at.replace(year=2024))
    body = viewer_api.get(reverse("api-account-balance")).json()
    assert body["cash"] == 12_345_678 and body["total_evaluation"] == 2_000_000
    assert body["day_pnl"] == -500 and body["account"] == snap.account.account_no_masked


def test_positions_from_the_latest_snapshot(
    viewer_api, django_assert_max_num_queries, monkeypatch
) -> None:
    from apps.accounts import api

    # Without the trades app the broker's holdings are the positions.
    monkeypatch.setattr(api.django_apps, "is_installed", lambda name: name != "apps.trades")
    snap = BalanceSnapshotFactory()
    HoldingSnapshotFactory(snapshot=snap, code="005930", quantity=10, profit_loss=10_000)
    HoldingSnapshotFactory(snapshot=snap, code="000660", quantity=0)  # sold out: not a position
    with django_assert_max_num_queries(6):
        body = viewer_api.get(reverse("api-account-positions")).json()
    assert [(r["code"], r["qty"], r["pnl"]) for r in body["results"]] == [("005930", 10, 10_000)]


def test_keys_are_write_only(trader_api) -> None:
    created = trader_api.post(
        reverse("api-accounts"),
        {
            "account_no": "5000000010",
            "label": "모의",
            "mode": "mock",
            "app_key": "APIKEY-abcdefgh1234",
            "secret_key": "APISECRET-xyz-9876",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    text = created.content.decode()
    assert "APISECRET" not in text and "APIKEY-abcdefgh1234" not in text
    body = created.json()
    assert body["is_active"] and body["has_keys"] and body["app_key_masked"].endswith("1234")
    listed = trader_api.get(reverse("api-accounts")).content.decode()
    assert "APISECRET" not in listed and "APIKEY-abcdefgh1234" not in listed
    # An update without keys keeps them.
    pk = body["id"]
    assert (
        trader_api.patch(reverse("api-account", args=[pk]), {"label": "새 이름"}).status_code == 200
    )
    account = BrokerAccount.objects.get(pk=pk)
    assert account.label == "새 이름" and account.secret_key == "APISECRET-xyz-9876"


def test_new_account_needs_keys(trader_api) -> None:
    response = trader_api.post(
        reverse("api-accounts"), {"account_no": "5000000010", "mode": "mock"}, format="json"
    )
    assert response.status_code == 400 and not BrokerAccount.objects.exists()


def test_viewer_cannot_write_and_sees_masked_numbers(viewer_api) -> None:
    account = BrokerAccountFactory(is_active=True, account_no="5000000010")
    other = BrokerAccountFactory()
    assert viewer_api.post(reverse("api-accounts"), {}).status_code == 403
    assert viewer_api.post(reverse("api-account-activate", args=[other.pk])).status_code == 403
    assert viewer_api.post(reverse("api-account-balance-sync")).status_code == 403
    rows = viewer_api.get(reverse("api-accounts")).json()
    assert "5000000010" not in str(rows) and rows[0]["account_no"] == account.account_no_masked


def test_activate_conflict_with_open_orders(trader_api, open_orders) -> None:
    old = BrokerAccountFactory(is_active=True)
    new = BrokerAccountFactory()
    open_orders[old.account_no] = 1
    response = trader_api.post(reverse("api-account-activate", args=[new.pk]))
    assert response.status_code == 409 and "1" in response.json()["detail"]
    open_orders[old.account_no] = 0
    assert trader_api.post(reverse("api-account-activate", args=[new.pk])).json()["is_active"]


def test_sync_on_demand(trader_api, memory_broker) -> None:
    BrokerAccountFactory(is_active=True)
    memory_broker.set_cash(7_000_000)
    response = trader_api.post(reverse("api-account-balance-sync"))
    assert response.status_code == 201 and response.json()["cash"] == 7_000_000
