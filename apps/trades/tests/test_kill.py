"""`kill -9` of a process in the middle of an order call, then the restart's reconciliation: the order the
dead process sent is found at the broker, never sent again, and the books match the broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import reconcile

from .sim_support import trading_sim

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(settings.BASE_DIR)

SENDER = """
import json, os, sys
import django
django.setup()
from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.kiwoom.config import KiwoomConfig
from apps.trades.services import OrderIntent, order_submit
cfg = KiwoomConfig(**json.loads(sys.argv[1]))
broker = KiwoomBroker(cfg)
print("sending", flush=True)
order_submit(OrderIntent(code="005930", side="buy", quantity=7, order_type="market",
                         account_no=cfg.account, cause_ref="kill-test"), broker.place_order)
print("returned", flush=True)
"""


def test_kill_9_mid_call_then_reconcile() -> None:
    import datetime as dt

    with trading_sim(dt.date(2025, 11, 3), participation="0.5") as (sim, broker, _feed):
        cfg = broker.config
        args = {
            "app_key": cfg.app_key,
            "secret_key": cfg.secret_key,
            "account": cfg.account,
            "base_url": cfg.base_url,
            "ws_url": cfg.ws_url,
            "redis_url": cfg.redis_url,
            "key_prefix": cfg.key_prefix,
            "rate_query_per_sec": 100.0,
            "order_call_timeout": 120.0,
        }
        # The exchange takes the order; its reply never comes back (the request is held open).
        sim.faults.set(lost_order_replies=1, lost_reply_mode="hang", api_ids=["kt10000"])
        db = connection.settings_dict
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="stockagent.settings_test",
            DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", SENDER, json.dumps(args)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                at_broker = sim.call(sim.exchange.orders, sim.account)
                if at_broker and Order.objects.filter(status=OrderStatus.SUBMITTED).exists():
                    break
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                time.sleep(0.1)
            else:
                pytest.fail("the sender never reached the broker")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        sim.faults.reset()
        order = Order.objects.get()
        assert order.status == OrderStatus.SUBMITTED and not order.broker_order_no
        sim.advance_sync(seconds=2)
        # The restart: the worker reconciles at start.
        result = reconcile(broker, account_no=sim.account, submitted_grace_seconds=0)
        order.refresh_from_db()
        assert order.status == OrderStatus.FILLED and order.broker_order_no
        assert result.run.ok, result.differences
        assert len(sim.call(sim.exchange.orders, sim.account)) == 1  # sent once, never again
        assert Position.objects.get().quantity == 7
        journal = list(order.transitions.values_list("to_status", flat=True))
        assert "unknown" in journal
