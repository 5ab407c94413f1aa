"""Writes of the accounts app: saving and activating broker accounts, seeding the first one from the
environment, and balance snapshots synced from the broker.

The broker is called outside any transaction; snapshots are written in one, and the live push goes out
after commit. Secrets never reach a log line or an error message.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from time import monotonic

import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import credentials
from apps.accounts.models import (
    BalanceSnapshot,
    BrokerAccount,
    HoldingSnapshot,
    Mode,
    SnapshotSource,
)
from apps.accounts.selectors import account_active, account_open_orders
from apps.broker.backends import exchange_now
from apps.broker.contract import Broker
from apps.core.live import publish_after_commit
from apps.core.rediskeys import redis_key
from krx import KST, calendar

log = logging.getLogger(__name__)

SYNC_PENDING_KEY = redis_key("stockagent", "accounts", "balance-sync-pending")


class AccountError(Exception):
    """A refused account change; the message is shown to the trader as is."""


def _bump_generation() -> None:
    try:
        credentials.generation_bump()
    except redis.RedisError as exc:
        log.warning("could not announce the account change (%s)", type(exc).__name__)


# --- accounts -------------------------------------------------------------------------------------------
def account_save(account: BrokerAccount, *, user=None) -> BrokerAccount:
    """Validate and save; the first account becomes the active one. Key changes of the active account
    reach every process's broker within seconds."""
    account.full_clean()
    account.updated_by = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        if not BrokerAccount.objects.select_for_update().filter(is_active=True).exists():
            account.is_active = True
        account.save()
        if account.is_active:
            transaction.on_commit(_bump_generation)
    log.info("broker account %s saved by %s", account.account_no_masked, user or "system")
    return account


def account_activate(account: BrokerAccount, *, user=None) -> BrokerAccount:
    """Make `account` the one that trades. Refused while the current one has open orders: their fills
    and cancels belong to the old account's keys."""
    current = account_active()
    if current is not None and current.pk == account.pk:
        return account
    if current is not None and (open_count := account_open_orders(current)) > 0:
        raise AccountError(
            _(
                "미체결 주문이 %(count)s건 있어 계좌를 바꿀 수 없습니다. 먼저 취소하거나 체결을 기다리세요."
            )
            % {"count": open_count}
        )
    if not account.has_keys:
        raise AccountError(_("앱 키와 시크릿 키를 먼저 입력하세요."))
    with transaction.atomic():
        # Lock every account row so two switches cannot both win; the partial unique index backs this.
        list(BrokerAccount.objects.select_for_update().order_by("pk"))
        BrokerAccount.objects.filter(is_active=True).update(is_active=False)
        BrokerAccount.objects.filter(pk=account.pk).update(
            is_active=True,
            updated_by=user if user is not None and user.is_authenticated else None,
            updated_at=timezone.now(),
        )
        transaction.on_commit(_bump_generation)
    account.refresh_from_db()
    log.info("broker account %s activated by %s", account.account_no_masked, user or "system")
    return account


def account_seed_from_environment() -> BrokerAccount | None:
    """The first account from KIWOOM_APP_KEY/KIWOOM_SECRET_KEY/KIWOOM_ACCOUNT (or the simulator's demo
    pair and account). Idempotent: does nothing once any account exists or without an account number."""
    if BrokerAccount.objects.exists() or not settings.KIWOOM_ACCOUNT:
        return None
    mode = credentials.settings_mode()
    account = BrokerAccount(
        account_no=settings.KIWOOM_ACCOUNT,
        label=_("시뮬레이터 데모 계좌") if mode == Mode.SIMULATOR else _("환경변수 계좌"),
        mode=mode,
        app_key=settings.KIWOOM_APP_KEY,
        secret_key=settings.KIWOOM_SECRET_KEY,
    )
    try:
        return account_save(account)
    except ValidationError as exc:
        log.warning("KIWOOM_ACCOUNT not seeded: %s", "; ".join(exc.messages))
        return None


# --- balance snapshots ----------------------------------------------------------------------------------
def _day_start(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(KST).date(), time(0), tzinfo=KST)


def _day_profit_loss(account: BrokerAccount, at: datetime, estimated_assets: int) -> int | None:
    base = (
        BalanceSnapshot.objects.filter(account=account, taken_at__lt=_day_start(at))
        .order_by("-taken_at")
        .values_list("estimated_assets", flat=True)
        .first()
    )
    return None if base is None else estimated_assets - base


def balance_payload(snapshot: BalanceSnapshot) -> dict:
    return {
        "account": snapshot.account.account_no_masked,
        "cash": snapshot.cash,
        "d2_cash": snapshot.d2_cash,
        "orderable": snapshot.orderable,
        "total_purchase": snapshot.total_purchase,
        "total_evaluation": snapshot.total_evaluation,
        "total_profit_loss": snapshot.total_profit_loss,
        "total_return_rate": snapshot.total_return_rate,
        "estimated_assets": snapshot.estimated_assets,
        "day_pnl": snapshot.day_profit_loss,
        "day_pnl_rate": snapshot.day_return_rate,
        "at": snapshot.taken_at,
    }


def balance_sync(
    broker: Broker | None = None,
    *,
    source: str = SnapshotSource.MANUAL,
    now: datetime | None = None,
) -> BalanceSnapshot | None:
    """Ask the broker for the active account's balance and holdings and store them as one snapshot.
    Raises the broker's errors (BrokerError); returns None when there is no account at all."""
    account = account_active() or account_seed_from_environment()
    if account is None:
        return None
    if broker is None:
        from apps.broker.backends import get_broker

        broker = get_broker()
    balance = broker.balance()  # outside any transaction
    holdings = broker.holdings()
    at = now or timezone.now()
    with transaction.atomic():
        snapshot = BalanceSnapshot.objects.create(
            account=account,
            taken_at=at,
            source=source,
            cash=balance.cash,
            d2_cash=balance.d2_cash,
            orderable=balance.orderable,
            total_purchase=balance.total_purchase,
            total_evaluation=balance.total_evaluation,
            total_profit_loss=balance.total_profit_loss,
            total_return_rate=balance.total_return_rate,
            estimated_assets=balance.estimated_assets,
            day_profit_loss=_day_profit_loss(account, at, balance.estimated_assets),
        )
        HoldingSnapshot.objects.bulk_create(
            HoldingSnapshot(
                snapshot=snapshot,
                code=h.code,
                name=h.name,
                quantity=h.quantity,
                sellable_quantity=h.sellable_quantity,
                average_price=h.average_price,
                current_price=h.current_price,
                purchase_amount=h.purchase_amount,
                evaluation_amount=h.evaluation_amount,
                profit_loss=h.profit_loss,
                return_rate=h.return_rate,
            )
            for h in {h.code: h for h in holdings}.values()
        )
        publish_after_commit("account_balance", balance_payload(snapshot))
    return snapshot


_sync_queued_at = float("-inf")
_redis_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    # One pooled client per process (redis-py resets its pool in a forked child), not a connection per fill.
    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
    return _redis_client


def balance_sync_soon(source: str = SnapshotSource.FILL, delay_seconds: float = 1.0) -> bool:
    """Queue one balance sync shortly, after the current transaction commits (the trades app calls this
    after every fill). A burst of fills makes one sync, not one per fill. True if a sync was queued."""

    def _queue() -> None:
        global _sync_queued_at
        from apps.accounts.tasks import sync_balance

        now = monotonic()
        if now - _sync_queued_at < delay_seconds:
            # This process queued a sync less than `delay_seconds` ago: it cannot have run yet (its
            # countdown), so the pending key stands and SET NX would refuse. No Redis call per fill.
            return
        try:
            if not _redis().set(SYNC_PENDING_KEY, "1", nx=True, ex=max(5, int(delay_seconds) + 5)):
                return
        except redis.RedisError as exc:
            log.warning("balance sync not queued (%s)", type(exc).__name__)
            return
        _sync_queued_at = now
        sync_balance.apply_async(kwargs={"source": source}, countdown=delay_seconds)

    transaction.on_commit(_queue)
    return True


def balance_sync_due(now: datetime | None = None) -> bool:
    """Scheduled syncs run while KRX's regular session is open, by the exchange's clock, and once on
    a trading day before it opens when the active account has no snapshot of that day yet: the risk
    engine's opening equity comes from it, and without one every entry of the open is refused
    (`equity_unknown`) until the first sync in the session."""
    now = now or exchange_now()
    if calendar.is_market_open(now):
        return True
    day = calendar.trading_day_of(now)
    if not calendar.is_trading_day(day):
        return False  # a holiday or a weekend: nothing opens today
    session = calendar.session(day)
    if now >= session.open:
        return False  # after the close
    from .models import BalanceSnapshot
    from .selectors import active_account_no

    start = datetime.combine(day, time(0, 0), tzinfo=KST)
    return not BalanceSnapshot.objects.filter(
        account__account_no=active_account_no(), taken_at__gte=start
    ).exists()
