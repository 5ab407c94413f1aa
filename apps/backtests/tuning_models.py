"""Tuning runs and their trials (parameter tuning with walk-forward, issue 16), beside the backtest runs.

A `TuningRun` declares the ranges, the method (grid, or random with a trial count and a seed), the
objective, the data (range, codes or universe) and the walk-forward windows; its `TuningTrial`s are one
row per parameter set × window, each written by the worker that ran it (so any number of workers on any
number of machines may share a run). Progress is counted from the trial rows, never kept on the run.
A trial keeps the metrics of its in-sample and out-of-sample runs (no orders: the tuning never touches
the live books, nor the backtests' order tables). `result` holds the per-window choice and the
out-of-sample headline once the run is aggregated; `applied_version` the strategy-config version an
apply created.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

SCORE = {"max_digits": 24, "decimal_places": 4}


class TuningMethod(models.TextChoices):
    GRID = "grid", _("그리드")
    RANDOM = "random", _("무작위")


class TuningObjective(models.TextChoices):
    RETURN_PCT = "return_pct", _("수익률(%)")
    TOTAL_PNL = "total_pnl", _("총 손익")
    PROFIT_FACTOR = "profit_factor", _("손익비")
    SHARPE = "sharpe", _("샤프 비율(유사)")


class TuningRun(models.Model):
    strategy = models.CharField(_("전략"), max_length=50)
    params = models.JSONField(_("고정 파라미터"), default=dict, blank=True)
    ranges = models.JSONField(_("파라미터 범위"), default=dict)
    method = models.CharField(
        _("탐색 방식"), max_length=10, choices=TuningMethod.choices, default=TuningMethod.GRID
    )
    trials_requested = models.PositiveIntegerField(_("무작위 시도 수"), null=True, blank=True)
    seed = models.BigIntegerField(_("시드"), null=True, blank=True)
    objective = models.CharField(
        _("목표 지표"), max_length=20, choices=TuningObjective.choices,
        default=TuningObjective.RETURN_PCT,
    )  # fmt: skip
    options = models.JSONField(_("실행 옵션"), default=dict, blank=True)
    date_from = models.DateField(_("시작일"))
    date_to = models.DateField(_("종료일"))
    codes = models.JSONField(_("종목"), default=list, blank=True)
    universe = models.CharField(_("유니버스"), max_length=20, blank=True)
    in_sample_days = models.PositiveIntegerField(_("표본 내 거래일"))
    out_sample_days = models.PositiveIntegerField(_("표본 외 거래일"))
    step_days = models.PositiveIntegerField(_("이동 거래일"))
    windows = models.JSONField(_("구간"), default=list, blank=True)
    param_sets = models.PositiveIntegerField(_("파라미터 조합 수"), default=0)
    skipped_sets = models.PositiveIntegerField(_("제외된 조합 수"), default=0)
    trials_total = models.PositiveIntegerField(_("전체 시도"), default=0)
    status = models.CharField(
        _("상태"), max_length=10, choices=[
            ("queued", _("대기")), ("running", _("실행중")), ("done", _("완료")),
            ("cancelled", _("취소됨")), ("failed", _("실패")),
        ], default="queued",
    )  # fmt: skip
    cancel_requested = models.BooleanField(_("취소 요청"), default=False)
    best_params = models.JSONField(_("선택된 파라미터"), null=True, blank=True)
    result = models.JSONField(_("결과"), default=dict, blank=True)
    applied_version = models.PositiveIntegerField(_("적용된 설정 버전"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("요청자"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("생성"), auto_now_add=True)
    started_at = models.DateTimeField(_("시작"), null=True, blank=True)
    finished_at = models.DateTimeField(_("종료"), null=True, blank=True)
    error = models.TextField(_("오류"), blank=True)
    # The reaper's last re-send of the queued trials of this run when it stalled (`tuning_services.
    # runs_resend`): at most once per BACKTESTS_TRIAL_STALE_SECONDS; `resends` counts them (capped).
    resent_at = models.DateTimeField(_("대기 시도 재전송"), null=True, blank=True)
    resends = models.PositiveIntegerField(_("재전송 횟수"), default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"tuning #{self.pk} {self.strategy} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in ("done", "cancelled", "failed") and self.finished_at is not None


class TuningTrial(models.Model):
    run = models.ForeignKey(TuningRun, on_delete=models.CASCADE, related_name="trials")
    index = models.PositiveIntegerField(_("순번"))
    set_index = models.PositiveIntegerField(_("조합 번호"))
    window = models.PositiveIntegerField(_("구간"))
    params = models.JSONField(_("파라미터"), default=dict)
    status = models.CharField(_("상태"), max_length=10, default="queued")
    is_score = models.DecimalField(_("표본 내 점수"), null=True, blank=True, **SCORE)
    oos_score = models.DecimalField(_("표본 외 점수"), null=True, blank=True, **SCORE)
    is_metrics = models.JSONField(_("표본 내 지표"), default=dict, blank=True)
    oos_metrics = models.JSONField(_("표본 외 지표"), default=dict, blank=True)
    bars = models.BigIntegerField(_("처리한 봉 수"), default=0)
    worker = models.CharField(_("워커"), max_length=200, blank=True)
    elapsed_seconds = models.FloatField(_("소요 시간(초)"), null=True, blank=True)
    started_at = models.DateTimeField(_("시작"), null=True, blank=True)
    # Written by the worker at the claim, after each replayed day and at the end (never by the reaper): a
    # running trial whose heartbeat is older than BACKTESTS_TRIAL_STALE_SECONDS lost its worker
    # (`tuning_services.trials_reap`); a run whose newest heartbeat is that old has stalled (`runs_resend`).
    heartbeat_at = models.DateTimeField(_("마지막 진행 신호"), null=True, blank=True)
    finished_at = models.DateTimeField(_("종료"), null=True, blank=True)
    error = models.TextField(_("오류"), blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="tuning_trial_run_index"),
        ]
        indexes = [
            models.Index(fields=["run", "status"], name="tuning_trial_run_status"),
            # the reaper's scan: only running trials, by heartbeat
            models.Index(
                fields=["heartbeat_at"],
                name="tuning_trial_running_hb",
                condition=models.Q(status="running"),
            ),
        ]
