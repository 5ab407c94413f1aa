"""Reads of the accounts app: accounts, the active one, balance and holdings snapshots."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.hooks import open_orders_count
from apps.accounts.models import BalanceSnapshot, BrokerAccount, HoldingSnapshot


def accounts_list() -> QuerySet[BrokerAccount]:
    return BrokerAccount.objects.all()


def account_active() -> BrokerAccount | None:
    return BrokerAccount.objects.filter(is_active=True).first()


def account_open_orders(account: BrokerAccount) -> int:
    """Orders still open on the account (as the trades app counts them; 0 without it)."""
    return open_orders_count(account.account_no)


def balance_latest(account: BrokerAccount | None = None) -> BalanceSnapshot | None:
    account = account or account_active()
    if account is None:
        return None
    snapshot = BalanceSnapshot.objects.filter(account=account).order_by("-taken_at").first()
    if snapshot is not None:
        snapshot.account = account  # already read: `snapshot.account` costs no second query
    return snapshot


def holdings_latest(account: BrokerAccount | None = None) -> QuerySet[HoldingSnapshot]:
    return holdings_of(balance_latest(account))


def holdings_of(snapshot: BalanceSnapshot | None) -> QuerySet[HoldingSnapshot]:
    """The held lines of a balance snapshot (none without one)."""
    if snapshot is None:
        return HoldingSnapshot.objects.none()
    return snapshot.holdings.filter(quantity__gt=0).order_by("code")


def active_account_no() -> str:
    """The account orders go to: the active account's number, else KIWOOM_ACCOUNT."""
    return account_no_of(account_active())


def account_no_of(account: BrokerAccount | None) -> str:
    """The number orders go to when `account` is the active one (already read): its own, else
    KIWOOM_ACCOUNT."""
    from django.conf import settings

    return account.account_no if account else str(getattr(settings, "KIWOOM_ACCOUNT", "") or "")
