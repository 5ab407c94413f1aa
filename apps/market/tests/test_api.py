"""The chart endpoint, the instrument admin and the bar browse page."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from apps.core.tests.factories import UserFactory
from apps.market import indicators, selectors
from apps.market.tests.factories import DailyBarFactory, InstrumentFactory, MinuteBarFactory
from krx import calendar

DAY = dt.date(2025, 2, 3)


def make_day(code: str = "005930", minutes: int = 30, day: dt.date = DAY) -> None:
    instrument = InstrumentFactory(code=code, name="삼성전자")
    for i, end in enumerate(calendar.session(day).minute_bar_ends()[:minutes]):
        price = 70_000 + 100 * (i % 7)
        MinuteBarFactory(
            instrument=instrument,
            time=end,
            open=price,
            high=price + 100,
            low=price - 100,
            close=price,
            volume=1_000 + i,
            value=None if i % 2 else price * (1_000 + i),
        )


@pytest.mark.django_db
def test_chart_returns_bars_and_indicators_in_kst(viewer_client) -> None:
    make_day()
    response = viewer_client.get("/api/v1/market/chart/005930", {"date": "2025-02-03"})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "005930" and body["name"] == "삼성전자" and body["date"] == "2025-02-03"
    assert body["session"]["open"] == "2025-02-03T09:00:00+09:00"
    assert body["session"]["expected_bars"] == 381
    bars = body["bars"]
    assert len(bars) == 30
    assert bars[0]["time"] == "2025-02-03T09:01:00+09:00"
    assert bars[0]["open"] == 70_000 and isinstance(bars[0]["close"], int)
    assert bars[0]["atr"] is None and bars[13]["atr"] is not None
    assert bars[18]["bb_middle"] is None and bars[19]["bb_middle"] is not None
    # The numbers are the vectorised indicators over the stored bars.
    frame = selectors.minute_bars_of_day("005930", DAY)
    assert bars[-1]["vwap"] == round(indicators.vwap(frame).iloc[-1], 2)
    assert body["opening_range"]["high"] == 70_500 and body["opening_range"]["low"] == 69_900


@pytest.mark.django_db
def test_chart_warms_up_atr_and_bollinger_on_the_previous_session(viewer_client) -> None:
    make_day(minutes=25, day=dt.date(2025, 1, 31))
    make_day(minutes=3)
    bars = viewer_client.get("/api/v1/market/chart/005930?date=2025-02-03").json()["bars"]
    assert len(bars) == 3
    assert bars[0]["bb_middle"] is not None and bars[0]["atr"] is not None


@pytest.mark.django_db
def test_chart_defaults_to_latest_day_and_validates_input(viewer_client) -> None:
    make_day(minutes=3)
    assert viewer_client.get("/api/v1/market/chart/005930").json()["date"] == "2025-02-03"
    assert viewer_client.get("/api/v1/market/chart/005930?date=2025-13-01").status_code == 400
    assert viewer_client.get("/api/v1/market/chart/999999").status_code == 404
    holiday = viewer_client.get("/api/v1/market/chart/005930?date=2025-01-29").json()
    assert holiday["bars"] == [] and "session" not in holiday


@pytest.mark.django_db
def test_chart_requires_login(client) -> None:
    make_day(minutes=1)
    assert client.get("/api/v1/market/chart/005930").status_code in (302, 401, 403)


@pytest.mark.django_db
def test_admin_lists_instruments_and_bars_are_not_in_admin(client) -> None:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True, role=None)
    assert isinstance(admin, get_user_model())
    client.force_login(admin)
    make_day(minutes=2)
    assert client.get("/admin/market/instrument/").status_code == 200
    # Composite primary keys: Django's admin cannot register the bar models.
    assert client.get("/admin/market/minutebar/").status_code == 404


@pytest.mark.django_db
def test_bars_page_lists_minute_and_daily_bars(viewer_client) -> None:
    make_day(minutes=2)
    DailyBarFactory(instrument_id="005930", date=DAY, close=70_500, prev_close=None)
    DailyBarFactory(instrument=InstrumentFactory(code="000660"), date=DAY)
    page = viewer_client.get(
        "/market/bars/", {"kind": "minute", "code": "005930", "date": "2025-02-03"}
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "2025-02-03 09:02" in text and "2025-02-03 09:01" in text
    assert text.index("09:02") < text.index("09:01")  # newest first
    daily = viewer_client.get("/market/bars/", {"code": "005930"}).content.decode()
    assert "70,500원" in daily and "삼성전자" in daily and "000660" not in daily
    everything = viewer_client.get("/market/bars/", {"date": "2025-02-03"}).content.decode()
    assert "000660" in everything and "005930" in everything


@pytest.mark.django_db
def test_bars_page_pages_without_counting(viewer_client, monkeypatch) -> None:
    from apps.market import views

    monkeypatch.setattr(views, "PER_PAGE", 1)
    make_day(minutes=3)
    first = viewer_client.get("/market/bars/", {"kind": "minute", "code": "005930"})
    assert 'rel="next"' in first.content.decode() and 'rel="prev"' not in first.content.decode()
    last = viewer_client.get("/market/bars/", {"kind": "minute", "code": "005930", "page": "3"})
    body = last.content.decode()
    assert "09:01" in body and 'rel="next"' not in body and 'rel="prev"' in body


@pytest.mark.django_db
def test_bars_page_rejects_bad_filters(viewer_client) -> None:
    assert viewer_client.get("/market/bars/", {"code": "5930"}).status_code == 400
    assert viewer_client.get("/market/bars/", {"date": "2025-13-01"}).status_code == 400


@pytest.mark.django_db
def test_bars_page_requires_login(client) -> None:
    response = client.get("/market/bars/")
    assert response.status_code == 302 and "/login/" in response["Location"]
