"""The account settings page: masked keys for everyone, edits for traders only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.models import BrokerAccount
from apps.accounts.tests.factories import BalanceSnapshotFactory, BrokerAccountFactory

pytestmark = pytest.mark.django_db


def test_viewer_sees_masked_values_and_no_forms(viewer_client) -> None:
    BrokerAccountFactory(
        is_active=True,
        account_no="5000000010",
        app_key="PAGEKEY-1234567890",
        secret_key="PAGESEC-1",
    )
    html = viewer_client.get(reverse("accounts:settings")).content.decode()
    assert "PAGEKEY-1234567890" not in html and "PAGESEC-1" not in html
    assert "5000000010" not in html and "7890" in html
    assert 'id="new-account"' not in html


def test_viewer_posts_are_refused(viewer_client) -> None:
    account = BrokerAccountFactory()
    new = {"new-account_no": "5000000010", "new-app_key": "k", "new-secret_key": "s"}
    assert viewer_client.post(reverse("accounts:settings"), new).status_code == 403
    assert viewer_client.post(reverse("accounts:activate", args=[account.pk])).status_code == 403
    assert viewer_client.get(reverse("accounts:edit", args=[account.pk])).status_code == 403
    assert viewer_client.post(reverse("accounts:balance-sync")).status_code == 403
    assert BrokerAccount.objects.count() == 1


def test_trader_adds_an_account(trader_client) -> None:
    response = trader_client.post(
        reverse("accounts:settings"),
        {
            "new-account_no": "5000000010",
            "new-label": "시뮬",
            "new-mode": "simulator",
            "new-app_key": "FORMKEY-abcdef123",
            "new-secret_key": "FORMSECRET-987",
        },
    )
    assert response.status_code == 302
    account = BrokerAccount.objects.get()
    assert account.is_active and account.secret_key == "FORMSECRET-987"
    html = trader_client.get(reverse("accounts:settings")).content.decode()
    assert "FORMSECRET" not in html and "FORMKEY-abcdef123" not in html


def test_bad_account_number_changes_nothing(trader_client) -> None:
    response = trader_client.post(
        reverse("accounts:settings"),
        {
            "new-account_no": "123",
            "new-mode": "simulator",
            "new-app_key": "k",
            "new-secret_key": "s",
        },
    )
    assert response.status_code == 400 and not BrokerAccount.objects.exists()


def test_edit_keeps_keys_when_left_empty(trader_client) -> None:
    account = BrokerAccountFactory(is_active=True, secret_key="KEEP-ME-SECRET")
    page = trader_client.get(reverse("accounts:edit", args=[account.pk])).content.decode()
    assert "KEEP-ME-SECRET" not in page
    response = trader_client.post(
        reverse("accounts:edit", args=[account.pk]),
        {"account_no": account.account_no, "label": "바뀐 이름", "mode": "mock"},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.label == "바뀐 이름" and account.secret_key == "KEEP-ME-SECRET"


def test_switch_refused_shows_reason(trader_client, open_orders) -> None:
    old = BrokerAccountFactory(is_active=True)
    new = BrokerAccountFactory()
    open_orders[old.account_no] = 3
    response = trader_client.post(reverse("accounts:activate", args=[new.pk]), follow=True)
    assert "3" in response.content.decode()
    old.refresh_from_db()
    assert old.is_active


def test_balance_on_the_page(viewer_client) -> None:
    BalanceSnapshotFactory(cash=12_345_678)
    assert "12,345,678" in viewer_client.get(reverse("accounts:settings")).content.decode()


def test_admin_never_shows_secrets(client, trader) -> None:
    trader.is_staff = trader.is_superuser = True
    trader.save()
    client.force_login(trader)
    account = BrokerAccountFactory(app_key="ADMINKEY-123456789", secret_key="ADMINSECRET-1")
    for url in (
        reverse("admin:accounts_brokeraccount_changelist"),
        reverse("admin:accounts_brokeraccount_change", args=[account.pk]),
    ):
        html = client.get(url).content.decode()
        assert "ADMINSECRET" not in html and "ADMINKEY-123456789" not in html
