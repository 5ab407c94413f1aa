"""The risk engine's tables.

- `RiskConfig`: the versioned risk configuration. Every change is a new row (version + 1) with its
  author, time and reason; the active configuration is the latest version; rows are never edited.
- `RiskStatus`: one row (pk 1), what the hot path reads in one query: the risk state and the active
  configuration's version (both written in the same transaction as their journal/version row).
- `RiskStateEvent`: the journal of risk state changes (ACTIVE / REDUCING / HALTED) with cause, reason,
  author (None: automatic) and time.
- `RiskAccount`: one row per broker account, the per-account lock the pre-trade check and the books
  take (`apps.risk.services.lock.account_lock`).
- `RiskDay`: the session's opening equity of one account on one trading day (and the unrealised P&L
  carried into it), the base of the daily loss limit.

Money is integer KRW; percentages are Decimal; losses are negative (stop-loss -3 means -3%).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

PCT = {"max_digits": 6, "decimal_places": 2}


class State(models.TextChoices):
    ACTIVE = "active", _("정상 (ACTIVE)")
    REDUCING = "reducing", _("축소 (REDUCING)")
    HALTED = "halted", _("중단 (HALTED)")


def default_excluded() -> list[str]:
    return ["halted", "administrative", "warning", "risk", "liquidation", "vi"]


class RiskConfig(models.Model):
    version = models.PositiveIntegerField(_("버전"), unique=True)
    stop_loss_pct = models.DecimalField(_("손절률(%)"), default=Decimal("-3"), **PCT)
    take_profit_pct = models.DecimalField(_("익절률(%)"), null=True, blank=True, **PCT)
    trailing_stop_pct = models.DecimalField(
        _("트레일링 스탑(%)"),
        null=True,
        blank=True,
        help_text=_("진입 후 최고가에서 이만큼 떨어지면 매도"),
        **PCT,
    )
    exit_before_close_minutes = models.PositiveIntegerField(
        _("장 마감 전 청산(분)"), null=True, blank=True, default=10
    )
    weight_pct = models.DecimalField(_("종목당 최대 비중(%)"), default=Decimal(10), **PCT)
    max_positions = models.PositiveIntegerField(_("동시 보유 종목 수"), default=5)
    max_daily_loss_krw = models.BigIntegerField(
        _("1일 최대 손실(원)"), null=True, blank=True, default=2_000_000
    )
    max_daily_loss_pct = models.DecimalField(
        _("1일 최대 손실(시가 자산 대비 %)"), null=True, blank=True, default=Decimal(2), **PCT
    )
    max_order_value = models.BigIntegerField(
        _("1회 최대 주문금액(원)"), null=True, blank=True, default=10_000_000
    )
    max_entries_per_minute = models.PositiveIntegerField(
        _("분당 최대 신규 진입 주문"), null=True, blank=True, default=5
    )
    no_entry_before_close_minutes = models.PositiveIntegerField(
        _("장 마감 전 신규 진입 금지(분)"), default=15
    )
    excluded_kinds = models.JSONField(_("진입 제외 종목 구분"), default=default_excluded)
    reduce_at_pct = models.DecimalField(
        _("축소 전환 손실 한도 사용률(%)"), default=Decimal(80), **PCT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("변경자"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.CharField(_("사유"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("변경 시각"), auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("리스크 설정 버전")
        verbose_name_plural = _("리스크 설정 버전")

    def __str__(self) -> str:
        return f"v{self.version}"


class RiskStatus(models.Model):
    """The one row the hot path reads: state and active configuration version."""

    state = models.CharField(_("상태"), max_length=10, choices=State.choices, default=State.ACTIVE)
    config_version = models.PositiveIntegerField(_("설정 버전"), null=True, blank=True)
    changed_at = models.DateTimeField(_("상태 변경 시각"), null=True, blank=True)

    class Meta:
        verbose_name = _("리스크 상태")
        verbose_name_plural = _("리스크 상태")

    def __str__(self) -> str:
        return f"{self.state} (v{self.config_version})"


class RiskStateEvent(models.Model):
    from_state = models.CharField(_("이전"), max_length=10, choices=State.choices)
    to_state = models.CharField(_("이후"), max_length=10, choices=State.choices)
    cause = models.CharField(
        _("원인"), max_length=40, help_text=_("trader, daily_loss, loss_budget, reconcile …")
    )
    reason = models.CharField(_("사유"), max_length=300, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("변경자"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    account_no = models.CharField(_("계좌"), max_length=20, blank=True)
    data = models.JSONField(_("수치"), default=dict, blank=True)
    created_at = models.DateTimeField(_("시각"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("리스크 상태 변경")
        verbose_name_plural = _("리스크 상태 변경")

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state} ({self.cause})"


class RiskAccount(models.Model):
    account_no = models.CharField(_("계좌"), max_length=20, unique=True)
    locked_at = models.DateTimeField(_("마지막 잠금"), null=True, blank=True)

    class Meta:
        verbose_name = _("리스크 계좌 잠금")
        verbose_name_plural = _("리스크 계좌 잠금")

    def __str__(self) -> str:
        return self.account_no


class RiskDay(models.Model):
    account_no = models.CharField(_("계좌"), max_length=20)
    date = models.DateField(_("거래일"))
    opening_equity = models.BigIntegerField(_("시가 자산(원)"), null=True, blank=True)
    opening_unrealized = models.BigIntegerField(_("이월 평가손익(원)"), default=0)
    source = models.CharField(_("출처"), max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "account_no"]
        verbose_name = _("일별 시가 자산")
        verbose_name_plural = _("일별 시가 자산")
        constraints = [
            models.UniqueConstraint(fields=["account_no", "date"], name="risk_day_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.account_no} {self.date}: {self.opening_equity}"
