"""A simulated session end to end: a round trip traded on the simulator over real sockets (through the
executor), the simulator's clock moved past the close, then the beat task `reports.after_close` — reading the
exchange's clock from the simulator — stores the day's learning metrics and delivers the daily report to a
local fake Slack webhook; run again, it sends nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.broker.clock import SimulatorClock
from apps.notifications.models import Delivery
from apps.notifications.tests.factories import SlackChannelFactory
from apps.reports import tasks
from apps.reports.models import LearningMetrics, Report
from apps.risk.testing import permissive_config
from apps.trades.models import Trade
from apps.trades.services import OrderIntent, order_submit, reconcile
from apps.trades.tests.sim_support import trading_sim
from krx import KST

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

DAY = dt.date(2026, 3, 3)  # a Tuesday


def _market(account: str, side: str) -> OrderIntent:
    return OrderIntent(
        code="005930",
        side=side,
        quantity=30,
        price=None,
        order_type="market",
        account_no=account,
        strategy_tag="sim-report",
    )


def test_after_a_simulated_close_the_daily_report_reaches_slack(
    fake_http, eager, monkeypatch, settings, django_capture_on_commit_callbacks
) -> None:
    permissive_config()
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook", event_kinds=["report.daily"])
    with trading_sim(DAY, at=dt.time(15, 0), participation="0.5") as (sim, broker, _feed):
        settings.KIWOOM_ACCOUNT = sim.account  # the live account (no BrokerAccount row is active)
        for side in ("buy", "sell"):
            order_submit(_market(sim.account, side), broker.place_order)
            sim.advance_sync(seconds=2)
            assert reconcile(broker, account_no=sim.account).run.ok
        trade = Trade.objects.get()
        clock = SimulatorClock(sim.base_url, cache_seconds=0)
        monkeypatch.setattr("apps.broker.backends.exchange_clock", lambda: clock)

        # 15:00 on the exchange: today's session is still open, so the job covers the previous
        # trading day (a catch-up; nothing traded then): Friday 2026-02-27 (Monday 03-02 is the
        # 삼일절 substitute holiday), its daily report and, as the week's last session, the weekly one.
        with django_capture_on_commit_callbacks(execute=True):
            earlier = tasks.after_close()
        assert sorted(Report.objects.filter(pk__in=earlier).values_list("kind", "period_end")) == [
            ("daily", dt.date(2026, 2, 27)),
            ("weekly", dt.date(2026, 2, 27)),
        ]

        sim.advance_to_sync(dt.datetime.combine(DAY, dt.time(15, 55), tzinfo=KST))
        with django_capture_on_commit_callbacks(execute=True):
            (made,) = tasks.after_close()
            assert tasks.after_close() == []  # the next beat run: made once
    report = Report.objects.get(pk=made)
    assert (report.kind, report.period_end) == ("daily", DAY)
    metrics = LearningMetrics.objects.get(date=DAY)
    assert (metrics.total_trades, metrics.total_pnl) == (1, trade.pnl)
    assert fake_http.wait_for(3)
    texts = [r.body["text"] for r in fake_http.requests]
    assert len(texts) == 3
    assert f"[일간 리포트] 2026-03-03 손익 {trade.pnl:+,}원" in texts[2]
    assert "거래 1건" in texts[2]
    assert Delivery.objects.filter(channel=channel, status="sent").count() == 3
