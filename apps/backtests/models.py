"""Backtest runs and their results, in tables of their own.

A run's orders, fills and trades have the live shape (`apps.trades.models.Order`/`Fill`/`Trade`) but live
here, keyed by the run: the risk engine, reconciliation and the reports of the real account read only the
`trades` tables, so a backtest can never move the real books (an import-linter contract also keeps those
apps from importing this one). `BacktestRun` carries what a page needs for a live progress bar
(`status`, `progress`, `days_done`/`days_total`) and a cancel flag the runner checks after each day.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

PRICE = {"max_digits": 14, "decimal_places": 2}


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("대기")
    RUNNING = "running", _("실행중")
    DONE = "done", _("완료")
    CANCELLED = "cancelled", _("취소됨")
    FAILED = "failed", _("실패")


FINAL_RUN_STATUSES = frozenset({RunStatus.DONE, RunStatus.CANCELLED, RunStatus.FAILED})


class BacktestRun(models.Model):
    strategy = models.CharField(_("전략"), max_length=50)
    params = models.JSONField(_("파라미터"), default=dict, blank=True)
    options = models.JSONField(
        _("실행 옵션"), default=dict, blank=True,
        help_text="budget, cash, participation, slippage ticks, commission, assumed news score",
    )  # fmt: skip
    date_from = models.DateField(_("시작일"))
    date_to = models.DateField(_("종료일"))
    codes = models.JSONField(_("종목"), default=list, blank=True)
    universe = models.CharField(_("유니버스"), max_length=20, blank=True)
    status = models.CharField(
        _("상태"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("진행률(%)"), default=0)
    days_done = models.PositiveIntegerField(_("처리한 거래일"), default=0)
    days_total = models.PositiveIntegerField(_("전체 거래일"), default=0)
    cancel_requested = models.BooleanField(_("취소 요청"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("요청자"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("생성"), auto_now_add=True)
    started_at = models.DateTimeField(_("시작"), null=True, blank=True)
    finished_at = models.DateTimeField(_("종료"), null=True, blank=True)
    elapsed_seconds = models.FloatField(_("소요 시간(초)"), null=True, blank=True)
    bars = models.BigIntegerField(_("처리한 봉 수"), default=0)
    metrics = models.JSONField(_("성과 지표"), default=dict, blank=True)
    equity = models.JSONField(
        _("자산 곡선"), default=list, blank=True, help_text="[[ISO time, equity KRW], …] per day"
    )
    data_note = models.CharField(_("데이터 출처"), max_length=300, blank=True)
    error = models.TextField(_("오류"), blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.strategy} {self.date_from}…{self.date_to} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_RUN_STATUSES


class BacktestOrder(models.Model):
    """One order of a run (`apps.trades.models.Order`'s shape); `rejected` ones carry the reasons."""

    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="orders")
    seq = models.PositiveIntegerField(_("순번"))
    code = models.CharField(_("종목코드"), max_length=12)
    name = models.CharField(_("종목명"), max_length=50, blank=True)
    market = models.CharField(_("시장"), max_length=8, default="KOSPI")
    side = models.CharField(_("매매구분"), max_length=4)
    order_type = models.CharField(_("주문유형"), max_length=8, default="limit")
    quantity = models.PositiveIntegerField(_("주문수량"))
    price = models.BigIntegerField(_("주문가격"), null=True, blank=True)
    filled_quantity = models.PositiveIntegerField(_("체결수량"), default=0)
    filled_amount = models.BigIntegerField(_("체결금액"), default=0)
    avg_fill_price = models.DecimalField(_("평균체결가"), null=True, blank=True, **PRICE)
    commission = models.BigIntegerField(_("수수료"), default=0)
    tax = models.BigIntegerField(_("세금"), default=0)
    status = models.CharField(_("상태"), max_length=20)
    broker_order_no = models.CharField(_("주문번호"), max_length=20, blank=True)
    strategy_tag = models.CharField(_("전략 태그"), max_length=50, blank=True)
    cause = models.CharField(_("원인"), max_length=12)
    cause_ref = models.CharField(_("원인 참조"), max_length=100, blank=True)
    reason = models.CharField(_("사유"), max_length=300, blank=True)
    reference_price = models.BigIntegerField(_("기준가격"), null=True, blank=True)
    message = models.CharField(_("메시지"), max_length=300, blank=True)
    news_score = models.IntegerField(_("뉴스 점수"), null=True, blank=True)
    volume_rank = models.IntegerField(_("거래대금 순위"), null=True, blank=True)
    created_at = models.DateTimeField(_("주문 시각"))  # the exchange time of the decision
    finished_at = models.DateTimeField(_("종료"), null=True, blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="backtest_order_run_seq"),
        ]


class BacktestFill(models.Model):
    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="fills")
    order = models.ForeignKey(BacktestOrder, on_delete=models.CASCADE, related_name="fills")
    cum_quantity = models.PositiveIntegerField(_("누적체결수량"))
    quantity = models.PositiveIntegerField(_("체결수량"))
    price = models.DecimalField(_("체결가"), **PRICE)
    amount = models.BigIntegerField(_("체결금액"))
    cum_amount = models.BigIntegerField(_("누적체결금액"))
    execution_no = models.CharField(_("체결번호"), max_length=20)
    commission = models.BigIntegerField(_("수수료"), default=0)
    tax = models.BigIntegerField(_("세금"), default=0)
    executed_at = models.DateTimeField(_("체결시각"))

    class Meta:
        ordering = ["run", "executed_at", "id"]


class BacktestTrade(models.Model):
    """One round trip (the fills of one sell order), `apps.trades.models.Trade`'s shape."""

    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="trades")
    date = models.DateField(_("거래일"))
    code = models.CharField(_("종목코드"), max_length=10)
    name = models.CharField(_("종목명"), max_length=50, blank=True)
    side = models.CharField(_("방향"), max_length=4, default="buy")
    entry_time = models.DateTimeField(_("진입 시간"), null=True, blank=True)
    exit_time = models.DateTimeField(_("청산 시간"))
    entry_price = models.DecimalField(_("진입 가격"), **PRICE)
    exit_price = models.DecimalField(_("청산 가격"), **PRICE)
    quantity = models.PositiveIntegerField(_("수량"))
    entry_amount = models.BigIntegerField(_("매입금액"), default=0)
    exit_amount = models.BigIntegerField(_("매도금액"), default=0)
    pnl = models.BigIntegerField(_("실현손익"))
    pnl_pct = models.DecimalField(_("수익률(%)"), max_digits=9, decimal_places=4)
    commission = models.BigIntegerField(_("수수료"), default=0)
    tax = models.BigIntegerField(_("세금"), default=0)
    news_score = models.IntegerField(_("뉴스 점수"), null=True, blank=True)
    volume_rank = models.IntegerField(_("거래대금 순위"), null=True, blank=True)
    strategy_tag = models.CharField(_("전략 태그"), max_length=50, blank=True)
    exit_order = models.OneToOneField(
        BacktestOrder, on_delete=models.CASCADE, related_name="trade", null=True, blank=True
    )
    closed_position = models.BooleanField(_("전량 청산"), default=False)

    class Meta:
        ordering = ["run", "exit_time"]


# ------------------------------------------------------------------ parameter tuning (tuning_models.py)
from .tuning_models import TuningMethod, TuningObjective, TuningRun, TuningTrial  # noqa: E402, F401
