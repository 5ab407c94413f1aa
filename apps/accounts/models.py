"""Broker accounts (keys encrypted at rest, exactly one active) and balance/holdings snapshots."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField

account_no_validator = RegexValidator(
    r"^\d{10}$", _("계좌번호는 숫자 10자리입니다 (예: 5000000010).")
)


class Mode(models.TextChoices):
    SIMULATOR = "simulator", _("시뮬레이터")
    MOCK = "mock", _("키움 모의투자")
    REAL = "real", _("실전")


class BrokerAccount(models.Model):
    """One Kiwoom account with its app key pair. The key pair is write-only everywhere it is shown."""

    account_no = models.CharField(
        _("계좌번호"), max_length=10, unique=True, validators=[account_no_validator]
    )
    label = models.CharField(_("이름"), max_length=60, blank=True)
    mode = models.CharField(_("모드"), max_length=10, choices=Mode.choices, default=Mode.SIMULATOR)
    app_key = EncryptedTextField(_("앱 키"), blank=True)
    secret_key = EncryptedTextField(_("시크릿 키"), blank=True)
    is_active = models.BooleanField(_("매매 계좌"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-is_active", "account_no"]
        constraints = [
            # Exactly one account trades: at most one row may be active (the services keep one).
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="accounts_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.get_mode_display()} ({self.account_no_masked})"

    @property
    def account_no_masked(self) -> str:
        return mask(self.account_no, keep=4)

    @property
    def app_key_masked(self) -> str:
        return mask(self.app_key)

    @property
    def secret_key_masked(self) -> str:
        return mask(self.secret_key, keep=0)

    @property
    def has_keys(self) -> bool:
        return bool(self.app_key and self.secret_key)


def mask(value: str | None, keep: int = 4) -> str:
    """`ABCD…` style: the last `keep` characters at most, never more than a third of the value."""
    if not value:
        return ""
    keep = min(keep, len(value) // 3)
    return "•" * 8 + (value[-keep:] if keep else "")


class SnapshotSource(models.TextChoices):
    SCHEDULE = "schedule", _("정기")
    FILL = "fill", _("체결 후")
    MANUAL = "manual", _("수동")


class BalanceSnapshot(models.Model):
    """The broker's view of the account at one moment (kt00001 + kt00018). Integer KRW."""

    account = models.ForeignKey(BrokerAccount, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=10, choices=SnapshotSource.choices)
    cash = models.BigIntegerField(_("예수금"))
    d2_cash = models.BigIntegerField(_("D+2 추정예수금"))
    orderable = models.BigIntegerField(_("주문가능금액"))
    total_purchase = models.BigIntegerField(_("총 매입금액"))
    total_evaluation = models.BigIntegerField(_("총 평가금액"))
    total_profit_loss = models.BigIntegerField(_("총 평가손익"))
    total_return_rate = models.DecimalField(max_digits=9, decimal_places=2, null=True)
    estimated_assets = models.BigIntegerField(_("추정자산"))
    # Change of estimated assets since the last snapshot of the previous KST day (None on the first day).
    day_profit_loss = models.BigIntegerField(_("일일 손익"), null=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["account", "-taken_at"])]

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.taken_at:%Y-%m-%d %H:%M:%S}"

    @property
    def day_return_rate(self) -> Decimal | None:
        """The day's P&L as a percentage of the previous day's closing assets (None without them)."""
        if self.day_profit_loss is None:
            return None
        base = self.estimated_assets - self.day_profit_loss
        if base <= 0:
            return None
        return (Decimal(self.day_profit_loss) * 100 / base).quantize(Decimal("0.01"))


class HoldingSnapshot(models.Model):
    """One stock of a balance snapshot (kt00018 rows)."""

    snapshot = models.ForeignKey(BalanceSnapshot, on_delete=models.CASCADE, related_name="holdings")
    code = models.CharField(max_length=12)
    name = models.CharField(max_length=80, blank=True)
    quantity = models.BigIntegerField()
    sellable_quantity = models.BigIntegerField()
    average_price = models.BigIntegerField(null=True)
    current_price = models.BigIntegerField(null=True)
    purchase_amount = models.BigIntegerField()
    evaluation_amount = models.BigIntegerField()
    profit_loss = models.BigIntegerField()
    return_rate = models.DecimalField(max_digits=9, decimal_places=2, null=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "code"], name="accounts_holding_once")
        ]

    def __str__(self) -> str:
        return f"{self.code} x{self.quantity}"
