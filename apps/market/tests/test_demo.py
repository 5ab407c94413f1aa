"""The demo's market data (issue 11 #4): on first start the chart and the bars page have data."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.market import demo
from apps.market.models import DailyBar, Instrument, MinuteBar

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 1, 15)  # the replayed day (a Wednesday)


@pytest.fixture(scope="module")
def exchange():
    return demo._build_exchange(DAY)


def test_seed_loads_instruments_and_the_sessions_before_the_replayed_day(exchange, trader_client):
    seeded = demo.demo_market_seed(DAY, exchange=exchange)
    assert seeded.sessions == (dt.date(2025, 1, 14),)
    assert Instrument.objects.filter(code="005930").exists()
    assert seeded.instruments == Instrument.objects.count() > 0
    # Full sessions on the KRX grid: 381 minute bars (09:01 … 15:20 and the 15:30 closing auction).
    assert MinuteBar.objects.filter(instrument_id="005930").count() == 381
    assert DailyBar.objects.filter(instrument_id="005930", date=dt.date(2025, 1, 14)).exists()

    chart = trader_client.get("/api/v1/market/chart/005930")
    assert chart.status_code == 200
    assert chart.json()["date"] == "2025-01-14"
    assert len(chart.json()["bars"]) == 381
    assert "005930" in trader_client.get("/market/bars/?code=005930").content.decode()

    # Idempotent: a second start changes nothing and skips the work.
    again = demo.demo_market_seed(DAY)
    assert again.skipped
    assert demo.demo_market_seed(DAY, exchange=exchange).minute_bars == 0
