"""Writes of parameter tuning: create a run with its trials, run one trial, aggregate, cancel, apply.

- `tuning_create` validates everything first (the strategy, the fixed parameters, the range and its
  walk-forward windows, the declared ranges and the trial budget: `tuning.expand`) and then writes the run
  and one `queued` trial per parameter set × window in one transaction; a bad request raises
  `TuningInvalid` naming each field and stores nothing.
- `tuning_launch` creates and, after commit, fans the trials out as one Celery group (a chord whose body
  is `backtests.tuning_finish`) on the `reports` queue.
- `trial_execute(trial_id)` claims its queued trial (conditional UPDATE: a trial runs once, whichever
  worker gets it; a trial of a cancelled run is skipped), replays the window's in-sample days, then its
  out-of-sample days, with the parameter set (`runner.run`, the backtests' runner and its per-day cancel
  check: the run's `cancel_requested`), and writes its own row. When it was the last unfinished trial it
  aggregates the run itself, so a lost chord body never leaves a run open.
- `tuning_finish(run_id)` aggregates from the trial rows (idempotent: it computes the same result every
  time and writes it once, conditionally on `finished_at` being unset): per window the best in-sample
  parameter set and its out-of-sample result, the out-of-sample headline, the parameters to apply.
- `trials_reap()` (beat task `backtests.reap_trials`): a running trial whose heartbeat — written at its
  claim and after each replayed day — is older than `BACKTESTS_TRIAL_STALE_SECONDS` lost its worker (a
  SIGKILL, a lost machine: tasks are acked early, so nothing re-delivers it); it is marked failed naming
  the worker and its run is aggregated when it was the last unfinished trial. A slow worker that comes
  back finds its trial no longer running: it stops at its next day and writes nothing.
- `runs_resend()` (the same beat task, after the reaping): a run with queued trials and no trial progress
  for the stale window gets those trials' tasks sent again (a killed worker may have fetched them without
  starting them), once per window and `max_resends()` times at most; a duplicate delivery is a no-op
  (the claim is conditional on `queued`).
- `tuning_cancel` marks the run cancelled; queued trials are cancelled at once, running ones stop after
  the day in progress.
- `tuning_apply` writes a new strategy-config version with the chosen parameters through
  `apps.strategy.services.config_update`; its reason names the tuning run.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import socket
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from apps.strategy.engine.params import ParamsInvalid
from apps.strategy.engine.runner import BUILTINS as REGISTRY

from . import tuning
from .models import TuningRun, TuningTrial
from .runner import run
from .services import DEFAULT_BUDGET_KRW, DEFAULT_CASH_KRW, metrics_of, run_spec
from .tuning import TuningInvalid

log = logging.getLogger(__name__)

__all__ = [
    "TuningInvalid",
    "progress_of",
    "runs_resend",
    "trial_execute",
    "trials_reap",
    "tuning_apply",
    "tuning_cancel",
    "tuning_create",
    "tuning_finish",
    "tuning_launch",
]

MAX_TRIALS = 2000  # per run (parameter sets × windows); settings.TUNING_MAX_TRIALS overrides
FINAL = ("done", "cancelled", "failed")
COMPACT_DROP = ("patterns", "best_pattern", "worst_pattern")


def max_trials() -> int:
    return int(getattr(settings, "TUNING_MAX_TRIALS", MAX_TRIALS))


def _active(strategy: str) -> Any:
    from apps.strategy.selectors import active_settings

    return active_settings().get(strategy)


def tuning_create(
    *,
    strategy: str,
    date_from: dt.date,
    date_to: dt.date,
    ranges: Mapping[str, Any],
    in_sample_days: int,
    out_sample_days: int,
    step_days: int | None = None,
    method: str = "grid",
    trials: int | None = None,
    seed: int | None = None,
    objective: str = "return_pct",
    codes: Sequence[str] = (),
    universe: str = "",
    overrides: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    user: Any = None,
) -> TuningRun:
    from .selectors import UNIVERSES, days_of

    cls = REGISTRY.get(strategy)
    if cls is None:
        raise TuningInvalid({"strategy": [f"unknown strategy {strategy!r}: {', '.join(REGISTRY)}"]})
    errors: dict[str, list[str]] = {}
    if date_to < date_from:
        errors["date_to"] = ["the range ends before it starts"]
    if not codes and universe not in UNIVERSES:
        errors["universe"] = [f"give codes or a universe: {', '.join(UNIVERSES)}"]
    if objective not in tuning.OBJECTIVES:
        errors["objective"] = [f"one of {', '.join(tuning.OBJECTIVES)}"]
    if method not in tuning.METHODS:
        errors["method"] = [f"one of {', '.join(tuning.METHODS)}"]
    active = _active(strategy)
    base: dict[str, Any] = {}
    try:
        loaded = cls.schema.load(active.params) if active is not None else None
        base = cls.schema.validate(dict(overrides or {}), loaded)
    except ParamsInvalid as exc:
        errors.update(exc.errors)
    windows: list[tuning.Window] = []
    if "date_to" not in errors:
        try:
            windows = tuning.walk_forward(
                days_of(date_from, date_to), in_sample_days, out_sample_days, step_days
            )
        except TuningInvalid as exc:
            errors.update(exc.errors)
    if errors:
        raise TuningInvalid(errors)
    if method == "random" and seed is None:
        seed = random.SystemRandom().randrange(2**31)  # stored: the run stays reproducible
    sets, skipped = tuning.expand(
        cls.schema, ranges, base, method=method, trials=trials, seed=seed,
        windows=len(windows), max_trials=max_trials(),
    )  # fmt: skip
    opts = dict(options or {})
    opts.setdefault("budget_krw", active.budget_krw if active is not None else DEFAULT_BUDGET_KRW)
    opts.setdefault("cash_krw", DEFAULT_CASH_KRW)
    with transaction.atomic():
        row = TuningRun.objects.create(
            strategy=strategy, params=cls.schema.to_json(base), ranges=dict(ranges),
            method=method, trials_requested=trials if method == "random" else None,
            seed=seed if method == "random" else None, objective=objective, options=opts,
            date_from=date_from, date_to=date_to, codes=sorted(set(codes)),
            universe="" if codes else universe, in_sample_days=in_sample_days,
            out_sample_days=out_sample_days, step_days=step_days or out_sample_days,
            windows=[w.as_json() for w in windows], param_sets=len(sets), skipped_sets=skipped,
            trials_total=len(sets) * len(windows),
            created_by=user if getattr(user, "pk", None) else None,
        )  # fmt: skip
        TuningTrial.objects.bulk_create(
            [
                TuningTrial(
                    run=row,
                    index=w.index * len(sets) + i,
                    set_index=i,
                    window=w.index,
                    params=params,
                )
                for w in windows
                for i, params in enumerate(sets)
            ],
            batch_size=2000,
        )
    return row


def tuning_launch(data: Mapping[str, Any], user: Any = None) -> TuningRun:
    """Create a run from a checked body (`tuning_serializers.TuningCreateSerializer`: the API and the
    page) and fan its trials out once the rows are committed."""
    row = tuning_create(
        strategy=data["strategy"], date_from=data["date_from"], date_to=data["date_to"],
        ranges=data["ranges"], in_sample_days=data["in_sample_days"],
        out_sample_days=data["out_sample_days"], step_days=data.get("step_days"),
        method=data.get("method") or "grid", trials=data.get("trials"), seed=data.get("seed"),
        objective=data.get("objective") or "return_pct", codes=data.get("codes") or (),
        universe=data.get("universe") or "", overrides=data.get("params") or {},
        options=data.get("options") or {}, user=user,
    )  # fmt: skip
    transaction.on_commit(lambda: dispatch(row.pk))
    return row


def dispatch(run_id: int) -> None:
    """One `backtests.tuning_trial` task per trial, as a group whose chord body aggregates the run."""
    from celery import chord

    from .tasks import tuning_finish_task, tuning_trial_task

    ids = list(
        TuningTrial.objects.filter(run_id=run_id).order_by("index").values_list("pk", flat=True)
    )
    if not ids:
        tuning_finish(run_id)
        return
    chord((tuning_trial_task.si(pk) for pk in ids), tuning_finish_task.si(run_id)).apply_async()


# --------------------------------------------------------------------------- one trial
def _compact(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in COMPACT_DROP}


def _worker_name() -> str:
    return f"{socket.gethostname()}:{__import__('os').getpid()}"


def trial_execute(trial_id: int) -> str:
    """Run one trial (see the module docstring); returns its final status."""
    from . import selectors

    now = timezone.now()
    claimed = TuningTrial.objects.filter(
        pk=trial_id, status="queued", run__cancel_requested=False
    ).update(status="running", started_at=now, heartbeat_at=now, worker=_worker_name()[:200])
    trial = TuningTrial.objects.select_related("run").get(pk=trial_id)
    row = trial.run
    if not claimed:
        if TuningTrial.objects.filter(pk=trial_id, status="queued").update(
            status="cancelled", finished_at=now
        ):
            _finish_if_last(row.pk)
            return "cancelled"
        # A duplicate delivery (the reaper's re-send, the broker's re-delivery): another worker has it,
        # or it is finished; nothing is written.
        log.info(
            "tuning trial %s is %s: duplicate delivery, nothing written", trial_id, trial.status
        )
        return trial.status
    TuningRun.objects.filter(pk=row.pk, status="queued").update(status="running", started_at=now)
    started = time.perf_counter()

    def on_day(done: int, total: int) -> bool:
        # One UPDATE: the heartbeat, and whether to go on (the run not cancelled, the trial not reaped).
        return bool(
            TuningTrial.objects.filter(
                pk=trial_id, status="running", run__cancel_requested=False
            ).update(heartbeat_at=timezone.now())
        )

    status, fields = "done", {}
    try:
        spec = run_spec(row.strategy, trial.params, row.options or {})
        window = row.windows[trial.window]
        codes = _codes(row)
        instruments = selectors.instruments_of(codes)
        bars = 0
        results: list[dict[str, Any]] = []
        for low, high in (
            (window["is_from"], window["is_to"]),
            (window["oos_from"], window["oos_to"]),
        ):
            days = selectors.days_of(dt.date.fromisoformat(low), dt.date.fromisoformat(high))
            loaded = selectors.iter_days(days, codes, prev_bars=spec.fill_model == "tape")
            result = run(spec, instruments, loaded, total_days=len(days), on_day=on_day)
            bars += result.bars
            if result.cancelled:
                status = "cancelled"
                break
            results.append(_compact(metrics_of(result, spec.cash)))
        fields["bars"] = bars
        if status == "done":
            is_m, oos_m = results
            fields.update(
                is_metrics=is_m, oos_metrics=oos_m,
                is_score=tuning.score(is_m, row.objective),
                oos_score=tuning.score(oos_m, row.objective),
            )  # fmt: skip
    except Exception as exc:
        log.exception("tuning trial %s failed", trial_id)
        status, fields = "failed", {"error": repr(exc)[:2000]}
    # Conditional: a trial the reaper has marked failed meanwhile stays so (its run may be aggregated).
    end = timezone.now()
    if not TuningTrial.objects.filter(pk=trial_id, status="running").update(
        status=status, finished_at=end, heartbeat_at=end,
        elapsed_seconds=round(time.perf_counter() - started, 3), **fields,
    ):  # fmt: skip
        return TuningTrial.objects.get(pk=trial_id).status
    _finish_if_last(row.pk)
    return status


def stale_seconds() -> int:
    return int(getattr(settings, "BACKTESTS_TRIAL_STALE_SECONDS", 900))


def trials_reap(now: dt.datetime | None = None) -> list[int]:
    """Mark failed the running trials whose heartbeat is older than `BACKTESTS_TRIAL_STALE_SECONDS` (their
    worker is gone) and finish their runs when nothing else is left; returns the reaped trials' ids."""
    now = now or timezone.now()
    limit = stale_seconds()
    cutoff = now - dt.timedelta(seconds=limit)
    stale = TuningTrial.objects.filter(status="running").filter(
        models.Q(heartbeat_at__lt=cutoff)
        | models.Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    reaped: list[int] = []
    for pk, run_id, worker, beat in stale.values_list("pk", "run_id", "worker", "heartbeat_at"):
        error = (
            f"작업자 유실: {limit}초 넘게 진행 신호 없음 (worker lost: no heartbeat for over {limit} s; "
            f"worker {worker or '?'}, last heartbeat {beat.isoformat() if beat else '-'})"
        )
        # Claimed by a conditional UPDATE: a trial that finished or beat meanwhile is left alone.
        if (
            TuningTrial.objects.filter(pk=pk, status="running")
            .filter(
                models.Q(heartbeat_at__lt=cutoff)
                | models.Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
            )
            .update(status="failed", finished_at=now, error=error[:2000])
        ):
            log.warning("tuning trial %s of run %s reaped: %s", pk, run_id, error)
            reaped.append(pk)
            _finish_if_last(run_id)
    return reaped


MAX_RESENDS = 3  # per run; settings.BACKTESTS_TRIAL_MAX_RESENDS overrides


def max_resends() -> int:
    return int(getattr(settings, "BACKTESTS_TRIAL_MAX_RESENDS", MAX_RESENDS))


def runs_resend(now: dt.datetime | None = None) -> dict[int, list[int]]:
    """Re-send `backtests.tuning_trial` for the queued trials of every stalled run; returns {run: trials}.

    A run has stalled when it is unfinished and not cancelled, has queued trials, and nothing happened on
    it for `BACKTESTS_TRIAL_STALE_SECONDS`: it was created, and last re-sent, before that, and no trial's
    heartbeat (claim, each replayed day, finish) is newer — so no trial is running alive either. Its queued
    trials were most likely fetched by a worker that was then killed (Redis holds such a message until
    its visibility timeout, 1 h). A run that merely waits in the queue behind other long trials looks the
    same: the re-send is then a duplicate, which the trial's conditional claim makes a no-op. At most one
    re-send per run per stale window (`resent_at`, claimed by a conditional UPDATE), and at most
    `max_resends()` in all (`resends`): with no worker serving `reports` the copies would pile up; a message
    a dead worker held is still handed out again by Redis after its visibility timeout."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=stale_seconds())
    due = (models.Q(resent_at__isnull=True) | models.Q(resent_at__lt=cutoff)) & models.Q(
        resends__lt=max_resends()
    )
    stalled = (
        TuningRun.objects.filter(
            finished_at__isnull=True, cancel_requested=False, created_at__lt=cutoff
        )
        .filter(due)
        .annotate(
            waiting=models.Count("trials", filter=models.Q(trials__status="queued")),
            beat=models.Max("trials__heartbeat_at"),
            began=models.Max("trials__started_at"),
        )
        .filter(waiting__gt=0)
        .filter(models.Q(beat__isnull=True) | models.Q(beat__lt=cutoff))
        .filter(models.Q(began__isnull=True) | models.Q(began__lt=cutoff))
    )
    sent: dict[int, list[int]] = {}
    for run_id, beat, resends in stalled.values_list("pk", "beat", "resends"):
        claimed = (
            TuningRun.objects.filter(pk=run_id, finished_at__isnull=True, cancel_requested=False)
            .filter(due)
            .update(resent_at=now, resends=models.F("resends") + 1)
        )
        if not claimed:
            continue
        ids = list(
            TuningTrial.objects.filter(run_id=run_id, status="queued")
            .order_by("index")
            .values_list("pk", flat=True)
        )
        for pk in ids:
            _send_trial(pk)
        sent[run_id] = ids
        log.warning(
            "tuning run %s stalled (no trial progress since %s): re-sent backtests.tuning_trial for "
            "its %d queued trials %s (re-send %d of at most %d)",
            run_id, beat.isoformat() if beat else "its creation", len(ids),
            ids if len(ids) <= 20 else f"{ids[:20]} …",
            resends + 1, max_resends(),
        )  # fmt: skip
    return sent


def _send_trial(trial_id: int) -> None:
    """One `backtests.tuning_trial` as `dispatch` sends it (same argument, routed to `reports`), without
    the chord: the run is finished by its last trial (`_finish_if_last`), as when trials are reaped."""
    from .tasks import tuning_trial_task

    tuning_trial_task.si(trial_id).apply_async()


def _codes(row: TuningRun) -> list[str]:
    """The run's codes: those given, else its universe resolved once (the first trial stores it in the
    run's options; a second worker doing the same at the same time finds the same codes)."""
    from . import selectors

    if row.codes:
        return list(row.codes)
    stored = (row.options or {}).get("universe_codes")
    if stored is not None:
        return list(stored)
    codes = selectors.universe_codes(row.date_from, row.date_to, (), row.universe)
    TuningRun.objects.filter(pk=row.pk).update(
        options={**(row.options or {}), "universe_codes": codes}
    )
    return codes


def _finish_if_last(run_id: int) -> None:
    if not TuningTrial.objects.filter(run_id=run_id, status__in=("queued", "running")).exists():
        tuning_finish(run_id)


# --------------------------------------------------------------------------- aggregate, cancel
def progress_of(run_id: int) -> dict[str, int]:
    """Trials by status and the progress (finished / total, in percent), from the rows."""
    from .tuning_selectors import progress_from, with_progress

    return progress_from(with_progress(TuningRun.objects.filter(pk=run_id)).get())


def aggregate(row: TuningRun, trials: Sequence[TuningTrial]) -> dict[str, Any]:
    """The run's result from its trials: per window the in-sample choice and its out-of-sample result,
    and the out-of-sample headline (`tuning.choose`, `tuning.headline`)."""
    scored = [
        tuning.Scored(t.set_index, t.window, t.params, t.is_score, t.oos_metrics)
        for t in trials
        if t.status == "done"
    ]
    chosen = tuning.choose(scored)
    per_window = []
    for w in row.windows:
        pick = chosen.get(w["index"])
        per_window.append({
            **w,
            "set_index": None if pick is None else pick.index,
            "params": None if pick is None else dict(pick.params),
            "is_score": None if pick is None or pick.is_score is None else str(pick.is_score),
            "oos_score": None if pick is None else _str(tuning.score(pick.oos_metrics, row.objective)),
            "oos_return_pct": None if pick is None else pick.oos_metrics.get("return_pct"),
            "oos_total_pnl": None if pick is None else pick.oos_metrics.get("total_pnl"),
        })  # fmt: skip
    head = tuning.headline([c.oos_metrics for c in chosen.values()], row.objective)
    last = list(chosen.values())[-1] if chosen else None
    return {
        # trials that ended without a result (an error, or reaped after their worker was lost)
        "failed_trials": [
            {"index": t.index, "window": t.window, "params": t.params, "error": t.error[:300]}
            for t in trials
            if t.status == "failed"
        ],
        "windows": per_window,
        "headline": head,
        "best_params": None if last is None else dict(last.params),
        "best_set_index": None if last is None else last.index,
    }


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def tuning_finish(run_id: int) -> bool:
    """Aggregate a run whose trials are all finished (False while some are not, or when it already is)."""
    if TuningTrial.objects.filter(run_id=run_id, status__in=("queued", "running")).exists():
        return False
    row = TuningRun.objects.get(pk=run_id)
    if row.finished_at is not None:
        return False
    trials = list(row.trials.all())
    result = aggregate(row, trials)
    if row.cancel_requested:
        status, error = "cancelled", ""
    elif not any(t.status == "done" for t in trials):
        status = "failed"
        error = next((t.error for t in trials if t.error), "no trial finished")
    else:
        status, error = "done", ""
        failed = [t for t in trials if t.status == "failed"]
        if failed:  # done, but said: the choice was made without these trials
            error = (
                f"{len(failed)}개 시도 실패, 나머지로 선택 ({len(failed)} trials failed; chosen "
                f"among the others). #{failed[0].index}: {failed[0].error}"
            )
    return bool(
        TuningRun.objects.filter(pk=run_id, finished_at__isnull=True).update(
            status=status, result=result, best_params=result["best_params"], error=error[:2000],
            finished_at=timezone.now(),
        )
    )  # fmt: skip


def tuning_cancel(run_id: int) -> bool:
    """Ask a run to stop (True when it was not finished)."""
    now = timezone.now()
    asked = TuningRun.objects.filter(pk=run_id, finished_at__isnull=True).update(
        cancel_requested=True, status="cancelled"
    )
    if not asked:
        return False
    TuningTrial.objects.filter(run_id=run_id, status="queued").update(
        status="cancelled", finished_at=now
    )
    tuning_finish(run_id)
    return True


# --------------------------------------------------------------------------- apply
def tuning_apply(run_id: int, user: Any) -> tuple[Any, bool]:
    """A new strategy-config version with the run's chosen parameters (reason: the run's id); returns
    the active config row and whether a version was written."""
    from apps.strategy.services import ConfigInvalid, config_update

    row = TuningRun.objects.get(pk=run_id)
    if row.status != "done" or not row.best_params:
        raise TuningInvalid(
            {"run": ["완료된 튜닝만 적용할 수 있습니다 (only a finished run with a result)"]}
        )
    reason = f"튜닝 #{row.pk} 결과 적용 (tuning run #{row.pk})"
    try:
        config, changed = config_update(
            row.strategy, {"params": row.best_params}, user=user, reason=reason
        )
    except ConfigInvalid as exc:
        raise TuningInvalid(exc.errors) from exc
    TuningRun.objects.filter(pk=run_id).update(applied_version=config.version)
    return config, changed
