"""The opening scanner's tables (imported by `apps.strategy.models`).

- `ScanSnapshot`: one run of the scanner — when (the exchange's time), for which trading day and which
  scheduled exchange minute (`slot`, unique: a minute is scanned once, whichever worker got there), the
  rankings that answered, how long it took, what failed, whether news scores were available, and which
  instruments the risk configuration excluded.
- `ScanRow`: one candidate of a run, ranked by trading value, with its rank in each source ranking.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ScanTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("정기 (거래소 분 단위)")
    MANUAL = "manual", _("수동")


class NewsStatus(models.TextChoices):
    OK = "ok", _("정상")
    UNAVAILABLE = "unavailable", _("뉴스 서비스 불가")
    ABSENT = "absent", _("뉴스 앱 없음")


class ScanSnapshot(models.Model):
    at = models.DateTimeField(_("실행 시각 (거래소)"))
    day = models.DateField(_("거래일"))
    slot = models.DateTimeField(
        _("정기 실행 분"),
        null=True,
        blank=True,
        help_text=_("정기 실행이 맡은 거래소 시각의 분 (수동 실행은 비어 있음)"),
    )
    trigger = models.CharField(
        _("실행 구분"), max_length=10, choices=ScanTrigger.choices, default=ScanTrigger.SCHEDULE
    )
    sources = models.JSONField(_("응답한 순위 TR"), default=list, blank=True)
    duration_ms = models.PositiveIntegerField(_("소요 시간(ms)"), default=0)
    error = models.TextField(_("오류"), blank=True)
    news = models.CharField(
        _("뉴스 점수"), max_length=12, choices=NewsStatus.choices, default=NewsStatus.OK
    )
    excluded = models.JSONField(_("제외 종목"), default=list, blank=True)
    row_count = models.PositiveIntegerField(_("후보 수"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["day", "at"], name="strategy_scan_day_at")]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"], condition=models.Q(slot__isnull=False), name="strategy_scan_slot"
            )
        ]
        verbose_name = _("장초 스캔")
        verbose_name_plural = _("장초 스캔")

    def __str__(self) -> str:
        return f"scan {self.pk} {self.at:%Y-%m-%d %H:%M}"


class ScanRow(models.Model):
    snapshot = models.ForeignKey(ScanSnapshot, on_delete=models.CASCADE, related_name="rows")
    rank = models.PositiveSmallIntegerField(_("순위"))
    code = models.CharField(_("종목코드"), max_length=12)
    name = models.CharField(_("종목명"), max_length=100, blank=True)
    price = models.BigIntegerField(_("현재가"), null=True, blank=True)
    change_pct = models.DecimalField(
        _("등락률(%)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    value_krw = models.BigIntegerField(_("거래대금"), null=True, blank=True)
    value_estimated = models.BooleanField(
        _("거래대금 추정"),
        default=False,
        help_text=_("거래대금 순위에 없어 현재가 × 거래량으로 추정"),
    )
    volume = models.BigIntegerField(_("거래량"), null=True, blank=True)
    volume_ratio = models.DecimalField(
        _("전일 대비 거래량(배)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    news_score = models.PositiveSmallIntegerField(_("뉴스 점수"), null=True, blank=True)
    value_rank = models.PositiveSmallIntegerField(_("거래대금 순위"), null=True, blank=True)
    surge_rank = models.PositiveSmallIntegerField(_("거래량 급증 순위"), null=True, blank=True)
    gain_rank = models.PositiveSmallIntegerField(_("상승률 순위"), null=True, blank=True)

    class Meta:
        ordering = ["snapshot", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "rank"], name="strategy_scanrow_rank")
        ]
        verbose_name = _("스캔 후보")
        verbose_name_plural = _("스캔 후보")

    def __str__(self) -> str:
        return f"{self.rank}. {self.code} {self.name}".strip()
