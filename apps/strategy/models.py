"""The strategy app's tables: the opening scanner's runs, strategy configurations and signals."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


# --------------------------------------------------------------------------------- configuration
class StrategyConfig(models.Model):
    """One version of one strategy's configuration. Every change is a new row (version + 1 per
    strategy) with its author, time and reason; the active configuration of a strategy is its latest
    version; rows are never edited. `params` is the strategy's parameter set as validated by its
    schema (`apps.strategy.engine.params`; decimals as strings)."""

    strategy = models.CharField(_("전략"), max_length=50)
    version = models.PositiveIntegerField(_("버전"))
    enabled = models.BooleanField(_("사용"), default=False)
    budget_krw = models.BigIntegerField(_("전략 예산(원)"))
    params = models.JSONField(_("파라미터"), default=dict, blank=True)
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
        ordering = ["strategy", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "version"], name="strategy_config_version"),
        ]
        verbose_name = _("전략 설정 버전")
        verbose_name_plural = _("전략 설정 버전")

    def __str__(self) -> str:
        return f"{self.strategy} v{self.version}"


# --------------------------------------------------------------------------------- signals
class SignalStatus(models.TextChoices):
    NEW = "new", _("신규")
    ACCEPTED = "accepted", _("주문 전송")  # became an order intent the executor accepted
    REJECTED = "rejected", _("리스크 거부")  # the risk check refused it (risk_reasons)
    GATED = "gated", _("자동매매 꺼짐")  # the trading gate was closed (switch off / not ACTIVE)
    FAILED = "failed", _("오류")


class Signal(models.Model):
    """One strategy decision, with the reason and the features behind it. `key` is unique per
    (strategy, code, trading day, kind): a signal fired once is never fired (or ordered) again,
    also across a restart of the realtime process."""

    key = models.CharField(_("신호 키"), max_length=120, unique=True)
    strategy = models.CharField(_("전략"), max_length=50, db_index=True)
    strategy_version = models.PositiveIntegerField(_("전략 설정 버전"), null=True, blank=True)
    account_no = models.CharField(_("계좌번호"), max_length=20, blank=True)
    code = models.CharField(_("종목코드"), max_length=12, db_index=True)
    name = models.CharField(_("종목명"), max_length=100, blank=True)
    side = models.CharField(_("매매구분"), max_length=4)  # "buy" / "sell"
    day = models.DateField(_("거래일"), db_index=True)
    at = models.DateTimeField(_("신호 시각"))  # exchange time
    price = models.BigIntegerField(_("기준가"), null=True, blank=True)
    reason = models.TextField(_("사유"))
    features = models.JSONField(_("근거 지표"), default=dict, blank=True)
    status = models.CharField(
        _("상태"), max_length=10, choices=SignalStatus.choices, default=SignalStatus.NEW
    )
    risk_reasons = models.JSONField(_("리스크 사유"), default=list, blank=True)
    order = models.ForeignKey(
        "trades.Order",
        verbose_name=_("주문"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signals",
    )
    created_at = models.DateTimeField(_("생성 시각"), auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["day", "strategy", "code"]),
            # The signal feeds (overview, strategy page: newest first) read this index backwards.
            models.Index(fields=["at", "id"], name="strategy_signal_at_idx"),
        ]
        verbose_name = _("신호")
        verbose_name_plural = _("신호")

    def __str__(self) -> str:
        return f"{self.strategy} {self.side} {self.code} @ {self.at:%H:%M:%S}"


# ------------------------------------------------------------------ opening scanner (scanner_models.py)
from .scanner_models import NewsStatus, ScanRow, ScanSnapshot, ScanTrigger  # noqa: E402, F401
