"""The per-stock chart: its JSON (bars, VWAP, opening range; markers from handmade orders, fills and
signals), the page, the roles, bad input, the `bar_update` push, the code links on the trading pages,
and the vendored charting library."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.conditions.tests.factories import ConditionEventFactory
from apps.core.live import LIVE_GROUP
from apps.market import checks, indicators, selectors
from apps.market.live import LiveBars
from apps.market.tests.factories import InstrumentFactory, MinuteBarFactory, SignalFactory
from apps.market.tests.test_api import DAY, make_day
from apps.market.tests.test_live import FakeTick, kst
from apps.market.views import CHART_LIBRARY
from apps.trades.tests.factories import OrderFactory, PositionFactory
from apps.trades.tests.ui_factories import FillFactory, TradeFactory
from krx import KST

CODE = "005930"
CHART = f"/api/v1/market/chart/{CODE}"
MARKERS = f"/api/v1/market/chart/{CODE}/markers"


def at(hh: int, mm: int, ss: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm, ss), tzinfo=KST)


# ---- bars, VWAP, opening range ----------------------------------------------------------------------
@pytest.mark.django_db
def test_every_bar_carries_the_session_vwap_of_indicators_vwap(viewer_client) -> None:
    make_day(minutes=30)
    body = viewer_client.get(CHART, {"date": "2025-02-03"}).json()
    frame = selectors.minute_bars_of_day(CODE, DAY)
    expected = indicators.vwap(frame)
    assert [b["vwap"] for b in body["bars"]] == [round(v, 2) for v in expected]
    # The traded value rides along (0 where the bar has none), so the page can extend VWAP with live bars
    # by the same rule.
    assert [b["value"] for b in body["bars"][:2]] == [70_000 * 1_000, 0]


@pytest.mark.django_db
def test_opening_range_is_the_first_m_minutes_and_m_is_a_setting(viewer_client, settings) -> None:
    make_day(minutes=30)
    frame = selectors.minute_bars_of_day(CODE, DAY)
    body = viewer_client.get(CHART, {"date": "2025-02-03"}).json()
    first5 = frame.iloc[:5]
    assert body["opening_range"] == {
        "high": int(first5["high"].max()),
        "low": int(first5["low"].min()),
        "minutes": 5,
        "start": "2025-02-03T09:00:00+09:00",
        "end": "2025-02-03T09:05:00+09:00",
    }
    settings.CHART_OPENING_RANGE_MINUTES = 10
    body = viewer_client.get(CHART, {"date": "2025-02-03"}).json()
    first10 = frame.iloc[:10]
    assert body["opening_range"]["high"] == int(first10["high"].max()) == 70_700
    assert body["opening_range"]["low"] == int(first10["low"].min())
    assert body["opening_range"]["minutes"] == 10


def test_opening_range_minutes_is_checked_at_start_up(settings) -> None:
    assert checks.opening_range_minutes_check() == []
    for bad in (0, -5, 61):
        settings.CHART_OPENING_RANGE_MINUTES = bad
        assert [m.id for m in checks.opening_range_minutes_check()] == ["market.E001"]


# ---- markers --------------------------------------------------------------------------------------------
def _fills() -> dict[str, object]:
    """A strategy entry filled in two minutes (three fills), a risk exit, and fills that must not show."""
    entry = OrderFactory(
        code=CODE, side="buy", strategy_tag="opening_leader", cause="signal", filled_quantity=30
    )
    FillFactory(order=entry, quantity=10, cum_quantity=10, price=Decimal("70500"), amount=705_000,
                cum_amount=705_000, executed_at=at(9, 5, 10))  # fmt: skip
    FillFactory(order=entry, quantity=10, cum_quantity=20, price=Decimal("70600"), amount=706_000,
                cum_amount=1_411_000, executed_at=at(9, 5, 40))  # fmt: skip
    FillFactory(order=entry, quantity=10, cum_quantity=30, price=Decimal("70700"), amount=707_000,
                cum_amount=2_118_000, executed_at=at(9, 7, 5))  # fmt: skip
    exit_ = OrderFactory(code=CODE, side="sell", strategy_tag="", cause="risk", filled_quantity=30)
    FillFactory(order=exit_, quantity=30, cum_quantity=30, price=Decimal("71000"), amount=2_130_000,
                cum_amount=2_130_000, executed_at=at(10, 0, 0))  # fmt: skip
    # The closing auction's print belongs to the 15:30 bar.
    late = OrderFactory(code=CODE, side="buy", cause="user", filled_quantity=1)
    FillFactory(order=late, quantity=1, cum_quantity=1, price=Decimal("70000"), amount=70_000,
                cum_amount=70_000, executed_at=at(15, 25, 0))  # fmt: skip
    other_code = OrderFactory(code="000660", side="buy")
    FillFactory(order=other_code, executed_at=at(9, 30))
    other_day = OrderFactory(code=CODE, side="buy")
    FillFactory(order=other_day, executed_at=at(9, 30, day=dt.date(2025, 2, 4)))
    return {"entry": entry, "exit": exit_, "late": late}


@pytest.mark.django_db
def test_markers_are_the_days_fills_per_order_and_minute_and_the_signals(viewer_client) -> None:
    make_day(minutes=30)
    orders = _fills()
    signal = SignalFactory(at=at(9, 5, 3))
    SignalFactory(code="000660")
    SignalFactory(day=dt.date(2025, 2, 4), at=at(9, 5, day=dt.date(2025, 2, 4)))
    body = viewer_client.get(MARKERS, {"date": "2025-02-03"}).json()
    assert body["code"] == CODE and body["date"] == "2025-02-03"
    got = [(m["kind"], m["time"][11:16], m.get("quantity"), m["price"]) for m in body["markers"]]
    assert got == [
        ("signal", "09:06", None, 70_500),  # 09:05:03, the fills' bar, in time order
        ("entry", "09:06", 20, "70550.00"),  # two fills of one minute: one marker at their average
        ("entry", "09:08", 10, "70700.00"),
        ("exit", "10:01", 30, "71000.00"),  # a fill at 10:00:00 sits on the bar ending 10:01
        ("entry", "15:30", 1, "70000.00"),
    ]
    sig, entry, _, exit_, _ = body["markers"]
    assert entry["at"] == "2025-02-03T09:05:10+09:00"
    assert entry["side"] == "buy" and entry["strategy"] == "opening_leader"
    assert entry["cause"] == "signal" and entry["cause_label"] == "전략 신호"
    assert entry["order_id"] == str(orders["entry"].pk)
    assert entry["order_url"] == f"/orders/{orders['entry'].pk}/"
    assert exit_["side"] == "sell" and exit_["cause"] == "risk" and exit_["strategy"] == ""
    assert sig["strategy"] == "opening_leader" and sig["reason"] == signal.reason
    assert sig["side"] == "buy" and sig["status"] == "new" and sig["order_id"] is None


@pytest.mark.django_db
def test_markers_default_to_the_latest_day_with_bars(viewer_client) -> None:
    InstrumentFactory(code="000660")
    assert viewer_client.get("/api/v1/market/chart/000660/markers").json() == {
        "code": "000660",
        "date": None,
        "markers": [],
    }
    make_day(minutes=3)
    SignalFactory()
    body = viewer_client.get(MARKERS).json()
    assert body["date"] == "2025-02-03" and len(body["markers"]) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("url", [CHART, MARKERS])
def test_bad_code_and_date_are_clear_404_and_400(viewer_client, url) -> None:
    make_day(minutes=3)
    assert viewer_client.get(url.replace(CODE, "999999")).status_code == 404
    assert "import_instruments" in viewer_client.get(url.replace(CODE, "999999")).json()["hint"]
    assert viewer_client.get(url.replace(CODE, "abc")).status_code == 404
    for bad in ("2025-13-01", "yesterday", "2025-02-30"):
        response = viewer_client.get(url, {"date": bad})
        assert (
            response.status_code == 400 and response.json()["detail"] == "date must be YYYY-MM-DD"
        )
    for outside in ("1900-01-02", "0001-01-01", "9999-12-31"):
        response = viewer_client.get(url, {"date": outside})
        assert response.status_code == 400 and "KRX calendar" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [CHART, MARKERS, f"/chart/{CODE}/"])
def test_viewers_read_the_chart_and_anonymous_users_do_not(client, viewer, url) -> None:
    make_day(minutes=3)
    assert client.get(url).status_code in (302, 401, 403)
    client.force_login(viewer)
    assert client.get(url).status_code == 200


# ---- the page ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_page_loads_the_vendored_library_and_the_days_config(viewer_client) -> None:
    make_day(minutes=3, day=dt.date(2025, 1, 31))
    make_day(minutes=3)
    make_day(minutes=3, day=dt.date(2025, 2, 5))
    html = viewer_client.get(f"/chart/{CODE}/", {"date": "2025-02-03"}).content.decode()
    assert f'src="/static/{CHART_LIBRARY}"' in html and 'src="/static/market/chart.js"' in html
    assert 'id="chart"' in html and 'data-date="2025-02-03"' in html
    assert '"barsUrl": "/api/v1/market/chart/005930"' in html
    assert '"markersUrl": "/api/v1/market/chart/005930/markers"' in html
    assert '"openingRangeMinutes": 5' in html and '"explicitDate": true' in html
    assert 'href="?date=2025-01-31"' in html and 'href="?date=2025-02-05"' in html  # days with bars
    assert "삼성전자" in html and "TradingView" in html
    latest = viewer_client.get(f"/chart/{CODE}/").content.decode()
    assert 'data-date="2025-02-05"' in latest and '"explicitDate": false' in latest


@pytest.mark.django_db
def test_page_in_english(viewer_client) -> None:
    make_day(minutes=3)
    viewer_client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "en"})
    html = viewer_client.get(f"/chart/{CODE}/").content.decode()
    assert "Opening range (5 min)" in html and "Entries, exits and signals" in html
    assert '"entry": "Entry"' in html and '"orHigh": "Opening range high"' in html


@pytest.mark.django_db
def test_page_bad_input_says_what_is_wrong(viewer_client) -> None:
    make_day(minutes=3)
    missing = viewer_client.get("/chart/999999/")
    assert (
        missing.status_code == 404 and "종목을 찾을 수 없습니다: 999999" in missing.content.decode()
    )
    assert viewer_client.get("/chart/not-a-code/").status_code == 404
    bad = viewer_client.get(f"/chart/{CODE}/", {"date": "2025-02-30"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.content.decode()
    outside = viewer_client.get(f"/chart/{CODE}/", {"date": "1999-01-04"})
    assert outside.status_code == 400 and "2005-01-03" in outside.content.decode()
    for response in (missing, bad):
        assert 'id="chart"' not in response.content.decode()
        assert "/conditions/" in response.content.decode()  # the navigation stays


@pytest.mark.django_db
def test_page_of_a_code_without_bars_says_how_to_get_them(viewer_client) -> None:
    InstrumentFactory(code="000660", name="SK하이닉스")
    html = viewer_client.get("/chart/000660/").content.decode()
    assert "import_minute_bars" in html and "backfill" in html and "REALTIME_TICK_CODES" in html


# ---- links from the trading pages ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_codes_on_positions_orders_trades_and_conditions_link_to_their_chart(viewer_client) -> None:
    PositionFactory(code=CODE)
    order = OrderFactory(code=CODE)
    TradeFactory(code=CODE, date=dt.date(2025, 2, 4))
    event = ConditionEventFactory(code="000660", at=at(9, 31))
    link = f'<a class="code-link" href="/chart/{CODE}/"'
    assert link in viewer_client.get("/positions/").content.decode()
    assert link in viewer_client.get("/orders/").content.decode()
    assert link in viewer_client.get(f"/orders/{order.pk}/").content.decode()
    trades = viewer_client.get("/trades/").content.decode()
    assert f'href="/chart/{CODE}/?date=2025-02-04"' in trades
    detail = viewer_client.get(f"/conditions/{event.condition_id}/").content.decode()
    assert 'href="/chart/000660/?date=2025-02-03"' in detail


# ---- the live push ---------------------------------------------------------------------------------------------
@pytest.fixture
def pushed(monkeypatch) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "apps.core.live.publish_soon",
        lambda t, d, g=LIVE_GROUP, key=None: sent.append((t, d)),
    )
    return sent


@pytest.mark.django_db
def test_written_bars_are_pushed_as_bar_update_after_the_commit(
    pushed, django_capture_on_commit_callbacks
) -> None:
    InstrumentFactory(code=CODE)
    live = LiveBars()
    live.on_trade(FakeTick(CODE, kst(3, 9, 0, 1), 70_000, 10, None))
    live.on_trade(FakeTick(CODE, kst(3, 9, 0, 30), 70_100, 20, None))
    live.on_clock(kst(3, 9, 1, 0))
    with django_capture_on_commit_callbacks(execute=True):
        live.flush()
        assert pushed == []
    assert pushed == [
        (
            "bar_update",
            {
                "code": CODE,
                "time": "2025-02-03T09:01:00+09:00",
                "open": 70_000,
                "high": 70_100,
                "low": 70_000,
                "close": 70_100,
                "volume": 30,
                "value": 70_000 * 10 + 70_100 * 20,
            },
        )
    ]
    live.flush()
    assert len(pushed) == 1  # nothing new, nothing pushed


# ---- the vendored library ---------------------------------------------------------------------------------------
def test_the_vendored_library_is_the_documented_version_with_its_licence() -> None:
    path = Path(settings.BASE_DIR, "static", CHART_LIBRARY)
    head = path.read_text(encoding="utf-8")[:400]
    version = path.parent.name.rsplit("-", 1)[1]
    assert f"Lightweight Charts™ v{version}" in head
    assert "Apache License" in (path.parent / "LICENSE").read_text(encoding="utf-8")
    readme = Path(settings.BASE_DIR, "README.md").read_text(encoding="utf-8")
    assert f"lightweight-charts@{version}" in readme


@pytest.mark.django_db
def test_minute_bar_days_around_skips_days_without_bars() -> None:
    instrument = InstrumentFactory(code=CODE)
    for day in (dt.date(2025, 1, 31), dt.date(2025, 2, 5)):
        MinuteBarFactory(instrument=instrument, time=at(9, 1, day=day))
    assert selectors.minute_bar_days_around(CODE, DAY) == (
        dt.date(2025, 1, 31),
        dt.date(2025, 2, 5),
    )
    assert selectors.minute_bar_days_around(CODE, dt.date(2025, 2, 5)) == (
        dt.date(2025, 1, 31),
        None,
    )


def test_manage_check_passes() -> None:
    call_command("check")
