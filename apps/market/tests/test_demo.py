"""The demo's market data (issue 11 #4): on first start the chart and the bars page have data."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.market import demo
from apps.market.models import DailyBar, Instrument, MinuteBar

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 1, 15)  # the replayed day (a Wednesday)


def test_seed_loads_instruments_and_the_session_before_the_replayed_day(trader_client):
    seeded = demo.demo_market_seed(DAY)
    assert seeded.sessions == (dt.date(2025, 1, 14),)
    assert Instrument.objects.filter(code="005930").exists()
    assert seeded.instruments == Instrument.objects.count() > 0
    # A full session on the KRX grid: 381 minute bars (09:01 … 15:20 and the 15:30 closing auction).
    assert MinuteBar.objects.filter(instrument_id="005930").count() == 381
    last = DailyBar.objects.get(instrument_id="005930", date=dt.date(2025, 1, 14))
    assert (
        last.prev_close
        == DailyBar.objects.get(instrument_id="005930", date=dt.date(2025, 1, 13)).close
    )

    chart = trader_client.get("/api/v1/market/chart/005930")
    assert chart.status_code == 200
    assert chart.json()["date"] == "2025-01-14"
    assert len(chart.json()["bars"]) == 381
    assert "005930" in trader_client.get("/market/bars/?code=005930").content.decode()

    # Idempotent: a second start skips the work; forced, it changes nothing.
    assert demo.demo_market_seed(DAY).skipped
    again = demo.demo_market_seed(DAY, force=True)
    assert (again.daily_bars, again.minute_bars) == (0, 0)


def test_seed_demo_command_loads_the_market_with_the_simulator(settings):
    from io import StringIO

    from django.core.management import call_command

    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_SIM_DATE = "2025-01-15"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "instruments, 3300 daily and 20955 minute bars of 2025-01-14" in out.getvalue()
    assert MinuteBar.objects.filter(instrument_id="005930").count() == 381
