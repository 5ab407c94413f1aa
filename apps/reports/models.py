"""Learning metrics (seed 004 §9.2), daily/weekly reports, and the KOSPI/KOSDAQ index daily bars.

- `LearningMetrics`: one row per account and KRX trading day (seed: date UNIQUE; we key on the account
  too, since the live account can change), computed from that day's closed trades of the live account
  (`apps.reports.metrics`). Rates are percent, Decimal; money integer KRW. `patterns` keeps the day's
  per-pattern breakdown.
- `Report`: one daily or weekly report per account and period, made once (unique), with its text, its
  figures (`data`) and the equity chart PNG sent with it.
- `IndexDailyBar`: a market index's daily bar (KS11 = KOSPI, KQ11 = KOSDAQ), stored like the market
  app's stock `DailyBar`; index points are Decimal (two decimals), not KRW.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

RATE = {"max_digits": 12, "decimal_places": 4}
POINTS = {"max_digits": 12, "decimal_places": 2}


class LearningMetrics(models.Model):
    account_no = models.CharField(_("계좌"), max_length=20)
    date = models.DateField(_("집계일"))
    total_trades = models.PositiveIntegerField(_("총 거래 수"), default=0)
    win_count = models.PositiveIntegerField(_("승리 수"), default=0)
    loss_count = models.PositiveIntegerField(_("패배 수"), default=0)
    win_rate = models.DecimalField(_("승률(%)"), default=0, **RATE)
    avg_return = models.DecimalField(_("평균 수익률(%)"), default=0, **RATE)
    profit_factor = models.DecimalField(_("손익비"), null=True, blank=True, **RATE)
    exposure = models.DecimalField(_("노출도(%)"), default=0, **RATE)
    max_drawdown = models.DecimalField(_("최대 낙폭(%)"), default=0, **RATE)
    max_drawdown_krw = models.BigIntegerField(_("최대 낙폭(원)"), default=0)
    total_pnl = models.BigIntegerField(_("당일 총 손익"), default=0)
    start_equity = models.BigIntegerField(_("시작 평가액"), default=0)
    best_pattern = models.CharField(_("최고 수익 패턴"), max_length=100, blank=True)
    worst_pattern = models.CharField(_("최대 손실 패턴"), max_length=100, blank=True)
    patterns = models.JSONField(_("패턴별 성과"), default=list, blank=True)
    created_at = models.DateTimeField(_("생성"), auto_now_add=True)
    updated_at = models.DateTimeField(_("갱신"), auto_now=True)

    class Meta:
        ordering = ["-date"]
        verbose_name = _("학습 메트릭")
        verbose_name_plural = _("학습 메트릭")
        constraints = [
            models.UniqueConstraint(fields=["account_no", "date"], name="reports_metrics_day_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.account_no} {self.date} trades={self.total_trades}"


class ReportKind(models.TextChoices):
    DAILY = "daily", _("일간")
    WEEKLY = "weekly", _("주간")


class Report(models.Model):
    account_no = models.CharField(_("계좌"), max_length=20)
    kind = models.CharField(_("종류"), max_length=8, choices=ReportKind.choices)
    period_start = models.DateField(_("시작일"))
    period_end = models.DateField(_("종료일"))
    title = models.CharField(_("제목"), max_length=200)
    body = models.TextField(_("본문"), blank=True)
    data = models.JSONField(_("수치"), default=dict, blank=True)
    chart_png = models.BinaryField(_("자산 차트(PNG)"), blank=True, default=b"")
    notification_id = models.BigIntegerField(_("알림"), null=True, blank=True)
    created_at = models.DateTimeField(_("생성"), auto_now_add=True)

    class Meta:
        ordering = ["-period_end", "kind"]
        verbose_name = _("리포트")
        verbose_name_plural = _("리포트")
        constraints = [
            models.UniqueConstraint(
                fields=["account_no", "kind", "period_start"], name="reports_report_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_start}–{self.period_end}"


class IndexDailyBar(models.Model):
    pk = models.CompositePrimaryKey("index_code", "date")
    index_code = models.CharField(_("지수"), max_length=8)  # KS11, KQ11, KS200
    date = models.DateField(_("일자"))
    open = models.DecimalField(**POINTS)
    high = models.DecimalField(**POINTS)
    low = models.DecimalField(**POINTS)
    close = models.DecimalField(**POINTS)
    prev_close = models.DecimalField(null=True, blank=True, **POINTS)
    volume = models.BigIntegerField(default=0)
    value = models.BigIntegerField(default=0, help_text="traded value, KRW")

    class Meta:
        ordering = ["index_code", "date"]
        verbose_name = _("지수 일봉")
        verbose_name_plural = _("지수 일봉")

    def __str__(self) -> str:
        return f"{self.index_code} {self.date} {self.close}"
