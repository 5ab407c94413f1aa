"""Celery tasks of the backtests app (queue `reports`, by the `backtests.` prefix). Thin: the runner and
the storing live in `apps.backtests.services` (backtests) and `apps.backtests.tuning_services` (tuning);
progress and cancellation go through the rows.

A tuning run is one `backtests.tuning_trial` per trial, fanned out as a group with
`backtests.tuning_finish` as the chord body. The trial tasks keep a result (a chord counts them in the
result backend); each writes only its own trial row, and the aggregation is idempotent, so any number of
workers may serve a run."""

from __future__ import annotations

from celery import shared_task


# A run or a trial may take hours: both limits of their own (the global soft limit, 240 s, would
# otherwise end a backtest longer than four minutes as failed).
@shared_task(
    name="backtests.run",
    ignore_result=True,
    acks_late=False,
    time_limit=6 * 3600,
    soft_time_limit=6 * 3600 - 60,
)
def run_backtest(run_id: int) -> str:
    from apps.backtests.services import backtest_execute

    return str(backtest_execute(run_id).status)


@shared_task(
    name="backtests.tuning_trial",
    acks_late=False,
    time_limit=6 * 3600,
    soft_time_limit=6 * 3600 - 60,
)
def tuning_trial_task(trial_id: int) -> str:
    from apps.backtests.tuning_services import trial_execute

    return trial_execute(trial_id)


@shared_task(name="backtests.tuning_finish", acks_late=False, time_limit=600, soft_time_limit=590)
def tuning_finish_task(run_id: int) -> bool:
    from apps.backtests.tuning_services import tuning_finish

    return tuning_finish(run_id)


# On `default` (an exact route): the reports worker may be busy with the trials, or be the one that died.
# Fails the lost running trials, then re-sends the queued trials of stalled runs (`tuning_services`).
@shared_task(name="backtests.reap_trials", ignore_result=True, time_limit=120, soft_time_limit=110)
def reap_trials_task() -> int:
    from apps.backtests.tuning_services import runs_resend, trials_reap

    reaped = trials_reap()
    runs_resend()  # after the reaping: a run left with only queued trials may be stalled
    return len(reaped)
