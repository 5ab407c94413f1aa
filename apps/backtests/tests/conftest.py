"""Fixtures of the backtests tests."""

from __future__ import annotations

import pytest

from apps.backtests import tuning_services
from apps.backtests.models import TuningTrial


@pytest.fixture
def fanned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The fan-out as the workers would run it: every trial, then the aggregation (recorded)."""
    sent: list[int] = []

    def dispatch(run_id: int) -> None:
        sent.append(run_id)
        for pk in (
            TuningTrial.objects.filter(run_id=run_id).order_by("index").values_list("pk", flat=True)
        ):
            tuning_services.trial_execute(pk)
        tuning_services.tuning_finish(run_id)

    monkeypatch.setattr(tuning_services, "dispatch", dispatch)
    return sent
