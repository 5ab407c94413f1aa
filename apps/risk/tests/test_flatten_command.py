"""`manage.py flatten`: queued or run here, never two runs at once, a non-zero exit unless flat."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.broker.backends import reset_broker
from apps.core.models import RuntimeFlag
from apps.core.tests.factories import RuntimeFlagFactory
from apps.risk.services.liquidation import liquidation_current

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("flatten", *args, stdout=out)
    return out.getvalue()


def test_queue_then_already_running() -> None:
    flag = RuntimeFlagFactory(key="trading-enabled")
    RuntimeFlag.objects.filter(pk=flag.pk).update(enabled=True)
    out = run("--queue", "--reason", "터미널")
    run_now = liquidation_current()
    assert run_now is not None and run_now.status == "queued" and run_now.requested_by == "system"
    assert "trading gate closed" in out and "queued" in out
    assert not RuntimeFlag.objects.get(pk=flag.pk).enabled
    again = run("--queue")
    assert f"liquidation {run_now.id} is already queued" in again


def test_run_here_on_a_flat_account(settings) -> None:
    settings.BROKER_BACKEND = "memory"
    reset_broker()
    try:
        out = run("--watch", "0")
    finally:
        reset_broker()
    assert "status: done" in out
    assert liquidation_current().status == "done"


def test_unsold_holdings_exit_non_zero(settings) -> None:
    from apps.trades.tests.factories import PositionFactory

    settings.BROKER_BACKEND = "memory"
    reset_broker()
    PositionFactory(code="005930", quantity=3)
    try:
        with pytest.raises(CommandError, match="incomplete"):
            run("--watch", "0")
    finally:
        reset_broker()
