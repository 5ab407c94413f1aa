"""Celery tasks of the risk app (thin: ids in, services called), on the `orders` queue (`risk.*`).

- `risk.liquidate`: the emergency liquidation's run (cancel everything, sell everything). Never retried:
  a redelivered message finds the run claimed and does nothing; the sells carry idempotency keys.
- `risk.liquidation_check`: reports the sells' progress and queues itself again every 2 s until the
  account is flat or `RISK_LIQUIDATION_WATCH_SECONDS` passed (it never holds the worker's slot waiting).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="risk.liquidate", ignore_result=True, acks_late=False, max_retries=0, time_limit=240
)
def liquidate(run_id: str) -> str:
    from apps.risk.services.liquidation import liquidation_run

    try:
        return liquidation_run(run_id).status
    except LookupError:  # the run's record expired (7 days) or was never written: nothing to do
        return "unknown"


@shared_task(name="risk.liquidation_check", ignore_result=True, time_limit=60)
def liquidation_check(run_id: str) -> str:
    from apps.risk.services.liquidation import CHECK_EVERY_SECONDS, FINISHED
    from apps.risk.services.liquidation import liquidation_check as check

    run = check(run_id)
    if run is None:
        return "unknown"
    if run.status not in FINISHED:
        liquidation_check.apply_async((run_id,), countdown=CHECK_EVERY_SECONDS)
    return run.status
