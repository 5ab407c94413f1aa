"""Accounts: encryption at rest, one active account, switching refused with open orders, env seeding,
balance snapshots from the broker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from apps.accounts import services
from apps.accounts.models import BalanceSnapshot, BrokerAccount, Mode, mask
from apps.accounts.selectors import account_active
from apps.accounts.tests.factories import BalanceSnapshotFactory, BrokerAccountFactory
from apps.broker.contract import BrokerUnavailable
from krx import KST

pytestmark = pytest.mark.django_db


def test_keys_are_encrypted_at_rest() -> None:
    account = BrokerAccountFactory(app_key="MY-APP-KEY-123456", secret_key="MY-SECRET-654321")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT app_key, secret_key FROM accounts_brokeraccount WHERE id = %s", [account.pk]
        )
        stored = cur.fetchone()
    assert "MY-APP-KEY" not in stored[0] and "MY-SECRET" not in stored[1]
    fresh = BrokerAccount.objects.get(pk=account.pk)
    assert fresh.app_key == "MY-APP-KEY-123456" and fresh.secret_key == "MY-SECRET-654321"


@pytest.mark.parametrize("number", ["12345", "12345678901", "12345abcde", ""])
def test_account_number_is_ten_digits(number: str) -> None:
    with pytest.raises(ValidationError):
        services.account_save(BrokerAccount(account_no=number, app_key="a", secret_key="b"))
    assert not BrokerAccount.objects.exists()


def test_mask_never_shows_much() -> None:
    assert mask("") == ""
    assert mask("ABCDEFGHIJKL") == "••••••••IJKL"
    assert mask("AB") == "••••••••"  # too short to show any of it
    assert "SECRET" not in str(BrokerAccountFactory(secret_key="SECRET-XYZ-123"))


def test_first_account_becomes_active_others_do_not() -> None:
    first = services.account_save(
        BrokerAccount(account_no="5000000010", app_key="k", secret_key="s")
    )
    second = services.account_save(
        BrokerAccount(account_no="5000000020", app_key="k2", secret_key="s2")
    )
    assert first.is_active and not second.is_active


def test_database_allows_one_active_account() -> None:
    BrokerAccountFactory(is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        BrokerAccountFactory(is_active=True)


def test_activate_switches(open_orders) -> None:
    old = BrokerAccountFactory(is_active=True)
    new = BrokerAccountFactory()
    services.account_activate(new)
    assert account_active() == new
    old.refresh_from_db()
    assert not old.is_active


def test_switch_refused_while_open_orders(open_orders) -> None:
    old = BrokerAccountFactory(is_active=True)
    new = BrokerAccountFactory()
    open_orders[old.account_no] = 2
    with pytest.raises(services.AccountError, match="2"):
        services.account_activate(new)
    assert account_active() == old
    open_orders[old.account_no] = 0
    services.account_activate(new)
    assert account_active() == new


def test_switch_refused_without_keys() -> None:
    BrokerAccountFactory(is_active=True)
    keyless = BrokerAccountFactory(app_key="", secret_key="")
    with pytest.raises(services.AccountError):
        services.account_activate(keyless)


def test_seed_from_environment_is_idempotent(settings) -> None:
    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_ACCOUNT = "5000000010"
    settings.KIWOOM_APP_KEY = "SIMULATOR-DEMO-APPKEY"
    settings.KIWOOM_SECRET_KEY = "SIMULATOR-DEMO-SECRET"
    account = services.account_seed_from_environment()
    assert account is not None and account.is_active and account.mode == Mode.SIMULATOR
    assert account.app_key == "SIMULATOR-DEMO-APPKEY"
    assert services.account_seed_from_environment() is None
    assert BrokerAccount.objects.count() == 1


def test_seed_skipped_without_account_number(settings) -> None:
    settings.KIWOOM_ACCOUNT = ""
    assert services.account_seed_from_environment() is None
    assert not BrokerAccount.objects.exists()


def test_balance_sync_stores_snapshot(memory_broker, django_capture_on_commit_callbacks) -> None:
    account = BrokerAccountFactory(is_active=True)
    memory_broker.set_cash(50_000_000)
    memory_broker.set_holding("005930", 10, 70_000)
    memory_broker.set_quote("005930", 71_000, "삼성전자")
    with django_capture_on_commit_callbacks() as callbacks:
        snapshot = services.balance_sync(memory_broker, source="fill")
    assert snapshot is not None and snapshot.account == account
    assert snapshot.cash == 50_000_000 and snapshot.total_evaluation == 710_000
    holding = snapshot.holdings.get()
    assert (holding.code, holding.quantity, holding.profit_loss) == ("005930", 10, 10_000)
    assert snapshot.day_profit_loss is None  # no snapshot of an earlier day
    assert len(callbacks) == 1  # the live push, after commit


def test_day_pnl_against_previous_day(memory_broker) -> None:
    account = BrokerAccountFactory(is_active=True)
    today = dt.datetime(2025, 2, 4, 10, 0, tzinfo=KST)
    BalanceSnapshotFactory(
        account=account, taken_at=today - dt.timedelta(days=1), estimated_assets=99_000_000
    )
    BalanceSnapshotFactory(account=account, taken_at=today - dt.timedelta(minutes=30))
    memory_broker.set_cash(100_000_000)
    snapshot = services.balance_sync(memory_broker, now=today)
    assert snapshot.day_profit_loss == snapshot.estimated_assets - 99_000_000


def test_balance_sync_writes_nothing_on_broker_error(memory_broker) -> None:
    BrokerAccountFactory(is_active=True)
    memory_broker.fail_next(BrokerUnavailable("down"))
    with pytest.raises(BrokerUnavailable):
        services.balance_sync(memory_broker)
    assert not BalanceSnapshot.objects.exists()


def test_balance_sync_seeds_env_account(memory_broker, settings) -> None:
    settings.KIWOOM_ACCOUNT = "5000000010"
    snapshot = services.balance_sync(memory_broker)
    assert snapshot is not None and snapshot.account.account_no == "5000000010"


def test_open_orders_of_the_trades_app_block_a_switch() -> None:
    from apps.trades.tests.factories import OrderFactory

    old = BrokerAccountFactory(is_active=True)
    new = BrokerAccountFactory()
    OrderFactory(account_no=old.account_no, status="accepted")
    OrderFactory(
        account_no=new.account_no, status="accepted"
    )  # the target's own orders do not count
    OrderFactory(account_no=old.account_no, status="filled")
    with pytest.raises(services.AccountError, match="1"):
        services.account_activate(new)
