"""Celery tasks of the backtests app (queue `reports`, by the `backtests.` prefix). Thin: the runner and
the storing live in `apps.backtests.services`; progress and cancellation go through the run's row."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="backtests.run", ignore_result=True, acks_late=False, time_limit=6 * 3600)
def run_backtest(run_id: int) -> str:
    from apps.backtests.services import backtest_execute

    return str(backtest_execute(run_id).status)
