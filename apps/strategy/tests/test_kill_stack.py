"""Issue 15, "Done when" 4: killing the news service, the realtime process or the worker mid-session leaves
no half-made order, and trading resumes after the restart without duplicate entries.

The whole stack (`running_stack`: `manage.py runstack` on this suite's PostgreSQL test database, a Redis
key prefix of its own) trades a replayed morning (2025-01-15 at speed 30) by itself, and three processes
are SIGKILLed in turn, each restarted by the supervisor before the next (`stackcheck.kill_one`):

1. the realtime process, the moment the first strategy signal is stored (its order is being made:
   the signal's row, the order's row, the broker call all happen in that process);
2. the simulator, which is also the bundled news service (REST scores and the breaking-news channel)
   — and the exchange;
3. the `orders` worker (reconciliation, manual orders) and the `market` worker (the scanner).

Afterwards, once reconciled with the broker: no order is left `new`, `submitted` or `unknown` and no
signal `new` (the one the realtime kill interrupted got its outcome at the restart); each signal made at
most one order, each code at most one strategy entry; and a signal after the last restart made its order
(trading resumed).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from apps.core.stackcheck import kill_one, sim_clock
from apps.core.stackrun import Stack, running_stack
from apps.strategy.models import Signal, SignalStatus
from apps.trades.models import Cause, Order, OrderStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UNSETTLED = (OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN)
KILL_BOUND = 60.0  # seconds for the supervisor to bring a killed process back (all green)

SETUP = """
from django.contrib.auth import get_user_model
from apps.risk.services import gate
from apps.risk.services.config import config_update
from apps.strategy.services import config_update as strategy_update
trader = get_user_model().objects.get(username="trader")
config_update({"take_profit_pct": "1", "stop_loss_pct": "-1"}, user=trader, reason="kill test")
strategy_update(
    "opening_breakout", {"params": {"exit_vwap_margin_pct": "0"}}, user=trader, reason="quick exits"
)
gate.switch_set(True, user=trader, reason="kill test")
"""


def stack_env() -> dict[str, str]:
    db = connection.settings_dict
    return {
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}"
            f":{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": f"{settings.REDIS_KEY_PREFIX}kill-{uuid.uuid4().hex[:8]}:",
        "SECRET_KEY": "kill-test-secret-key-0123456789-0123456789",
        "FIELD_ENCRYPTION_KEY": os.environ.get(
            "FIELD_ENCRYPTION_KEY", "s0mG1E6x2Jb1k5V9n2YlH4c0dQ3wS7uPzA8rT6mF_oI="
        ),
        "NEWS_SERVICE_URL": "",
    }


@pytest.fixture
def stack(transactional_db) -> Iterator[Stack]:
    with running_stack(
        stack_env(),
        sim_date="2025-01-15",
        sim_start="08:52",
        sim_speed=30,
        setup=[("shell", "-c", SETUP)],
    ) as running:
        yield running


def wait_for(what: str, fn, stack: Stack, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = fn()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(
        f"{what}: not by {sim_clock(stack.sim_port)} (exchange time)\n{stack.log_tail(6000)}"
    )


def kill(stack: Stack, name: str) -> dict:
    result = kill_one(stack.var_dir, stack.port, stack.token, name, KILL_BOUND, stack.sim_port)
    assert result.get("green_after_seconds") is not None, (result, stack.log_tail(6000))
    assert result["others_restarted"] == [], result
    return result


def test_kills_mid_session_leave_no_half_made_order_and_no_duplicate_entry(stack) -> None:
    # 1. The realtime process, while the first signal's order is being made.
    first = wait_for("a first signal", lambda: Signal.objects.order_by("id").first(), stack, 150)
    results = [kill(stack, "realtime")]
    first.refresh_from_db()
    order = first.order
    print("first signal at the kill:", first.key, first.status, order and order.status)
    # 2. The news service (the simulator: REST scores, the breaking-news channel — and the exchange).
    results.append(kill(stack, "simulator"))
    # 3. The workers.
    results.append(kill(stack, "worker-orders"))
    results.append(kill(stack, "worker-market"))
    for result in results:
        print(result)
    restarted = sim_clock(stack.sim_port)
    assert restarted is not None

    # Trading resumes: a signal after the last restart makes its order (034020's exit at 09:35 or
    # 000660's entry at 09:36 on this replayed day).
    def resumed() -> Signal | None:
        return (
            Signal.objects.filter(at__gt=restarted, order__isnull=False)
            .exclude(pk=first.pk)
            .first()
        )

    after = wait_for("an order after the restarts", resumed, stack, 120)
    print("after the restarts:", after.key, after.status, after.at)
    stack.manage("reconcile")
    for row in Signal.objects.order_by("at").select_related("order"):
        print(row.key, row.status, row.at, row.order and row.order.status)

    stuck = list(Order.objects.filter(status__in=UNSETTLED).values_list("code", "side", "status"))
    assert stuck == [], stuck
    by_signal = Counter(
        Order.objects.filter(cause=Cause.SIGNAL).values_list("cause_ref", flat=True)
    )
    assert by_signal and max(by_signal.values()) == 1, by_signal
    entries = Counter(
        Order.objects.filter(cause=Cause.SIGNAL, side="buy").values_list("code", flat=True)
    )
    assert max(entries.values()) == 1, entries
    keys = Counter(Signal.objects.values_list("key", flat=True))
    assert max(keys.values()) == 1
    # No signal left half-way either: the one the realtime kill interrupted got its outcome.
    assert not Signal.objects.filter(status=SignalStatus.NEW).exists()
    for signal in Signal.objects.filter(order__isnull=False).select_related("order"):
        assert signal.order.cause_ref == str(signal.pk)
