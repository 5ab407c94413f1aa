"""Backfill: validation, gap detection and repair, first with the in-memory broker, then
against the Kiwoom simulator over real sockets."""

import datetime as dt
import io
import uuid

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.broker.backends.memory import MemoryBroker
from apps.broker.contract import BrokerUnavailable, DailyBar, MinuteBar
from apps.core.rediskeys import redis_key
from apps.market import backfill, services
from apps.market.models import DailyBar as StoredDaily
from apps.market.models import Instrument
from apps.market.models import MinuteBar as StoredMinute
from apps.market.tests.factories import InstrumentFactory, MinuteBarFactory
from krx import calendar
from krx.markets import Market

DAY = dt.date(2025, 2, 3)
NOW = dt.datetime(2025, 2, 4, 12, 0, tzinfo=calendar.KST)


def broker_bars(code: str, day: dt.date, skip: set[str] = frozenset()) -> list[MinuteBar]:
    """A full session as the broker reports it (newest first), closing bar stamped 15:31."""
    out = []
    for end in calendar.session(day).minute_bar_ends():
        at = end.astimezone(calendar.KST)
        if at.strftime("%H%M") in skip:
            continue
        if at.time() == dt.time(15, 30):
            at += dt.timedelta(minutes=1)
        out.append(MinuteBar(code, at, 70_000, 70_100, 69_900, 70_000, 100))
    return out[::-1]


def test_normalise_folds_closing_bar_and_drops_off_session() -> None:
    rows = broker_bars("005930", DAY)
    extra = MinuteBar("005930", dt.datetime(2025, 2, 3, 17, 5, tzinfo=calendar.KST), 1, 1, 1, 1, 1)
    bars = backfill.normalise_minute_bars("005930", [*rows, extra], {DAY})
    assert len(bars) == 381
    assert bars[-1].end == calendar.session(DAY).close


@pytest.mark.django_db
def test_backfill_fills_a_gap_and_reports_nothing_missing() -> None:
    instrument = InstrumentFactory(code="005930")
    for end in calendar.session(DAY).minute_bar_ends():
        if end.astimezone(calendar.KST).strftime("%H%M") not in {"1000", "1001", "1002"}:
            MinuteBarFactory(instrument=instrument, time=end, value=123)
    broker = MemoryBroker()
    broker.bars["005930"] = broker_bars("005930", DAY)
    report = backfill.backfill_minutes(broker, ["005930"], DAY, DAY, NOW)
    [day] = report.days
    assert (day.expected, day.missing_before, day.filled, day.missing_after) == (381, 3, 3, ())
    assert report.complete and report.inserted == 3
    assert StoredMinute.objects.filter(instrument=instrument).count() == 381
    # Existing bars are never replaced (they keep the traded value the broker lacks).
    assert StoredMinute.objects.filter(value=123).count() == 378
    # A second run validates without fetching anything.
    calls = len(broker.calls)
    again = backfill.backfill_minutes(broker, ["005930"], DAY, DAY, NOW)
    assert again.complete and len(broker.calls) == calls


@pytest.mark.django_db
def test_unrepairable_gap_is_reported_after_retries() -> None:
    broker = MemoryBroker()
    broker.bars["000660"] = broker_bars("000660", DAY, skip={"1105", "1106", "1310"})
    report = backfill.backfill_minutes(broker, ["000660"], DAY, DAY, NOW, max_repairs=2)
    assert report.missing_minutes == 3 and not report.complete
    assert len([c for c in broker.calls if c[0] == "minute_bars"]) == 3  # first pass + 2 repairs
    assert any("11:05-11:06, 13:10" in line for line in report.lines())


@pytest.mark.django_db
def test_late_open_day_expects_321_bars_and_open_session_is_skipped() -> None:
    broker = MemoryBroker()
    first = dt.date(2025, 1, 2)
    broker.bars["005930"] = broker_bars("005930", first)
    now = dt.datetime(2025, 1, 3, 10, 30, tzinfo=calendar.KST)  # 01-03 session still running
    report = backfill.backfill_minutes(broker, ["005930"], first, dt.date(2025, 1, 3), now)
    assert [(d.day, d.expected) for d in report.days] == [(first, 321)]
    assert report.complete


@pytest.mark.django_db
def test_broker_error_is_reported_per_code() -> None:
    broker = MemoryBroker()
    broker.fail_next(BrokerUnavailable("down"))
    report = backfill.backfill_minutes(broker, ["005930"], DAY, DAY, NOW)
    assert "BrokerUnavailable" in report.errors["005930"] and not report.complete


@pytest.mark.django_db
def test_daily_backfill_inserts_missing_days() -> None:
    broker = MemoryBroker()
    broker.days["005930"] = [
        DailyBar("005930", d, 100, 110, 90, 105, 1_000, 105_000_000)
        for d in calendar.trading_days(dt.date(2025, 1, 20), DAY)
        if d != dt.date(2025, 1, 22)
    ][::-1]
    report = backfill.backfill_daily(broker, ["005930"], dt.date(2025, 1, 20), DAY, NOW)
    assert report.daily_missing["005930"] == [dt.date(2025, 1, 22)]
    assert StoredDaily.objects.count() == 6


@pytest.mark.django_db
def test_backfill_command_against_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """Done-when 4: the simulator's history fills a given gap and nothing is missing after."""
    from apps.broker import backends
    from apps.broker.backends.kiwoom import KiwoomBroker
    from apps.broker.kiwoom.config import KiwoomConfig
    from apps.broker.simulator.adapter import default_start
    from apps.broker.simulator.server import ServerConfig
    from apps.broker.simulator.testing import simulator_in_thread

    start = default_start(dt.date(2025, 1, 15), dt.time(16, 0))
    with simulator_in_thread(start=start, config=ServerConfig(rate_limit_per_s=None)) as sim:
        broker = KiwoomBroker(
            KiwoomConfig(
                app_key=sim.app_key,
                secret_key=sim.secret_key,
                account=sim.account,
                base_url=sim.base_url,
                ws_url=sim.ws_url,
                rate_query_per_sec=200.0,
                timeout_seconds=5.0,
                redis_url=settings.REDIS_URL,
                key_prefix=redis_key("test-market", uuid.uuid4().hex),
            )
        )
        monkeypatch.setattr(backends, "_broker", broker)
        try:
            code = broker.instruments(Market.KOSPI)[0].code
            out = io.StringIO()
            call_command("backfill", "--from", "2025-01-13", "--to", "2025-01-14", code, stdout=out)
            assert "0 minute(s) still missing" in out.getvalue()
            assert StoredMinute.objects.filter(instrument_id=code).count() == 2 * 381
            assert StoredDaily.objects.filter(instrument_id=code).count() == 2
            # The gap we are given: a hole in the morning of the 14th.
            hole = StoredMinute.objects.filter(
                instrument_id=code,
                time__gt=dt.datetime(2025, 1, 14, 10, 0, tzinfo=calendar.KST),
                time__lte=dt.datetime(2025, 1, 14, 10, 30, tzinfo=calendar.KST),
            )
            assert hole.delete()[0] == 30
            report = backfill.backfill_minutes(
                broker, [code], dt.date(2025, 1, 13), dt.date(2025, 1, 14), sim.now()
            )
            assert [d.missing_before for d in report.days] == [0, 30]
            assert report.complete and report.missing_minutes == 0
            assert StoredMinute.objects.filter(instrument_id=code).count() == 2 * 381
            # Instruments from ka10099 through the same broker.
            result = services.instruments_sync_from_broker(broker, ["KOSPI"])
            assert result.rows > 0
            assert Instrument.objects.get(code=code).market == "KOSPI"
        finally:
            broker.close()


@pytest.mark.django_db
def test_import_instruments_from_broker_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.broker import backends
    from apps.broker.contract import Instrument as BrokerInstrument
    from apps.broker.contract import InstrumentWarning

    broker = MemoryBroker()
    broker.instrument_list = [
        BrokerInstrument(
            code="005930",
            name="삼성전자",
            market=Market.KOSPI,
            market_name="거래소",
            listed_shares=5969782550,
            listing_date=dt.date(1975, 6, 11),
            previous_close=75_000,
            sector="전기·전자",
            size_class="대형주",
            state_flags=("증거금20%", "신용가능"),
            nxt_enabled=True,
        ),
        BrokerInstrument(
            code="900100",
            name="정지회사",
            market=Market.KOSDAQ,
            market_name="코스닥",
            listed_shares=1_000,
            listing_date=None,
            previous_close=500,
            sector="",
            size_class="",
            warning=InstrumentWarning.OVERHEATED,
            is_halted=True,
            is_administrative=True,
        ),
    ]
    monkeypatch.setattr(backends, "_broker", broker)
    call_command("import_instruments", "--from-broker", stdout=io.StringIO())
    samsung = Instrument.objects.get(code="005930")
    assert (samsung.market, samsung.listed_shares, samsung.nxt_enabled) == (
        "KOSPI",
        5969782550,
        True,
    )
    halted = Instrument.objects.get(code="900100")
    assert halted.market == "KOSDAQ" and halted.is_halted and halted.is_administrative
    assert halted.is_caution and halted.warning == "overheated"


@pytest.mark.django_db
def test_backfill_command_validates_arguments() -> None:
    with pytest.raises(CommandError, match="give one or more codes"):
        call_command("backfill", "--from", "2025-01-02", "--to", "2025-01-03")
    with pytest.raises(CommandError, match="not a date"):
        call_command("backfill", "--from", "2025-01-32", "--to", "2025-01-03", "005930")
    with pytest.raises(CommandError, match="before"):
        call_command("backfill", "--from", "2025-01-05", "--to", "2025-01-03", "005930")


@pytest.mark.django_db
def test_backfill_command_fails_loudly_on_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.broker import backends

    broker = MemoryBroker()
    broker.bars["005930"] = broker_bars("005930", DAY, skip={"0930"})
    broker.days["005930"] = [DailyBar("005930", DAY, 100, 110, 90, 105, 1_000, 105_000_000)]
    monkeypatch.setattr(backends, "_broker", broker)
    out = io.StringIO()
    with pytest.raises(CommandError, match="gaps or errors"):
        call_command("backfill", "--from", "2025-02-03", "--to", "2025-02-03", "005930", stdout=out)
    assert "005930 2025-02-03: expected 381, missing 381 before, filled 380" in out.getvalue()
    assert "09:30" in out.getvalue()
