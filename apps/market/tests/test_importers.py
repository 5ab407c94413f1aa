"""Importers and their commands on tiny files of the real formats, written per test."""

import datetime as dt
import gzip
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.market import importers, services
from apps.market.aggregator import Bar
from apps.market.models import DailyBar, Instrument, Market, MinuteBar
from apps.market.tests.factories import DailyBarFactory, InstrumentFactory

# The 2025 column order; 2021 files order the columns differently (see test below).
DAILY_2025 = (
    '"Code","Name","Close","Dept","ChangeCode","Changes","ChagesRatio","Volume","Amount","Open",'
    '"High","Low","Marcap","Stocks","Market","MarketId","Rank","Date"\n'
    '"005930","삼성전자",53400.0,"",1,200.0,0.38,16630538.0,878413120092.0,52700.0,53600.0,'
    '52300.0,318786388170000.0,5969782550,"KOSPI","STK",1,"2025-01-02"\n'
    '"078130","국일제지",800.0,"관리종목(소속부없음)",0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,'
    '901924696800.0,1127405871,"KOSDAQ","KSQ",262,"2025-01-02"\n'
    '"005930","삼성전자",53700.0,"",1,300.0,0.56,12000000.0,644400000000.0,53500.0,54000.0,'
    '53200.0,320577322935000.0,5969782550,"KOSPI","STK",1,"2025-01-03"\n'
)
DAILY_2021 = (
    '"Code","Name","Market","Dept","Close","ChangeCode","Changes","ChagesRatio","Open","High",'
    '"Low","Volume","Amount","Marcap","Stocks","MarketId","Rank","Date"\n'
    '"000660","SK하이닉스","KOSPI","",126000.0,"1",7500.0,6.33,124500.0,128000.0,120500.0,'
    '7995016.0,994276505704.0,91728297990000.0,728002365,"STK",2,"2021-01-04"\n'
    '"141070","맥스로텍","KOSDAQ GLOBAL","벤처기업부",1365.0,"0",0.0,0.0,0.0,0.0,0.0,177.0,'
    '241605.0,48997152750.0,35895350,"KSQ",2092,"2021-02-01"\n'
)
MINUTE = (
    "code,date,time_hhmm,open,high,low,close,volume\n"
    "005930,2018-01-17,0901,2480000,2485000,2478000,2484000,12000\n"
    "005930,2018-01-17,0902,2484000,2486000,2483000,2485000,9000\n"
    "005930,2018-01-17,1530,2490000,2490000,2490000,2490000,150000\n"
)
MASTER = (
    "\ufeff,Code,Name,Market,Sector,Industry,Products,ListingDate,SettleMonth,Representative,"
    "HomePage,Region\n"
    '0,060310,3S,KOSDAQ,벤처기업부,"측정, 시험 제조업",반도체,2002-04-23,03월,정완영,http://x,서울\n'
    "1,005930,삼성전자,KOSPI,,통신 및 방송 장비 제조업,반도체,1975-06-11,12월,한종희,http://y,경기\n"
    "2,012345,관리회사,KOSDAQ,관리종목(소속부없음),기타,,2010-01-04,12월,홍길동,,서울\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def snapshot() -> list[tuple]:
    return list(DailyBar.objects.order_by("instrument", "date").values_list()) + list(
        MinuteBar.objects.order_by("instrument", "time").values_list()
    )


@pytest.mark.django_db
def test_daily_import_gz_reads_columns_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, "marcap-2025.csv.gz", DAILY_2025)
    call_command("import_daily_bars", str(path), verbosity=0)

    bar = DailyBar.objects.get(instrument_id="005930", date=dt.date(2025, 1, 2))
    assert (bar.open, bar.high, bar.low, bar.close) == (52_700, 53_600, 52_300, 53_400)
    assert bar.volume == 16_630_538 and bar.value == 878_413_120_092
    assert bar.prev_close == 53_200
    assert isinstance(bar.close, int)
    samsung = Instrument.objects.get(code="005930")
    assert (samsung.name, samsung.market, samsung.listed_shares) == (
        "삼성전자",
        "KOSPI",
        5969782550,
    )
    # A day without a regular-session trade is a flat bar at the close.
    halted = DailyBar.objects.get(instrument_id="078130")
    assert (halted.open, halted.high, halted.low, halted.close, halted.volume) == (800,) * 4 + (0,)
    assert Instrument.objects.get(code="078130").is_administrative


@pytest.mark.django_db
def test_daily_import_other_column_order_and_after_hours_only_day(tmp_path: Path) -> None:
    path = write(tmp_path, "marcap-2021.csv", DAILY_2021)
    result = services.daily_bars_import_file(path)
    assert (result.rows, result.changed, result.instruments_created) == (2, 2, 2)
    assert DailyBar.objects.get(instrument_id="000660").close == 126_000
    after_hours = DailyBar.objects.get(instrument_id="141070")
    assert (after_hours.open, after_hours.low, after_hours.volume) == (1365, 1365, 177)
    assert Instrument.objects.get(code="141070").market == Market.KOSDAQ


@pytest.mark.django_db
def test_reimport_changes_nothing_and_a_correction_changes_one_row(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv.gz", DAILY_2025)
    services.daily_bars_import_file(path)
    before = snapshot()
    again = services.daily_bars_import_file(path)
    assert (again.changed, again.instruments_created) == (0, 0)
    assert snapshot() == before

    corrected = write(tmp_path, "d2.csv", DAILY_2025.replace("53700.0,", "53800.0,", 1))
    assert services.daily_bars_import_file(corrected).changed == 1
    assert DailyBar.objects.get(instrument_id="005930", date=dt.date(2025, 1, 3)).close == 53_800


@pytest.mark.parametrize(
    ("corrupt", "line", "reason"),
    [
        ('"005930","삼성전자",abc,', 4, "Close is not a number: 'abc'"),
        ('"005930","삼성전자",53700.5,', 4, "Close is not a whole number"),
        ('"05930","삼성전자",53700.0,', 4, "Code must be 6 characters"),
        ('"005930","삼성전자",60000.0,', 4, "outside Low"),
    ],
)
@pytest.mark.django_db
def test_corrupt_row_fails_the_file_and_changes_nothing(
    tmp_path: Path, corrupt: str, line: int, reason: str
) -> None:
    DailyBarFactory(instrument=InstrumentFactory(code="005930"), date=dt.date(2024, 12, 30))
    before = snapshot()
    text = DAILY_2025.replace('"005930","삼성전자",53700.0,', corrupt)
    path = write(tmp_path, "bad.csv.gz", text)
    with pytest.raises(CommandError) as info:
        call_command("import_daily_bars", str(path), verbosity=0)
    message = str(info.value)
    assert str(path) in message and f"line {line}:" in message and reason in message
    assert snapshot() == before
    assert not Instrument.objects.filter(code="078130").exists()


def test_missing_column_and_duplicate_row_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "nocol.csv", DAILY_2025.replace('"Amount"', '"Amt"'))
    with pytest.raises(importers.ImportFileError, match=r"line 1: missing column\(s\) Amount"):
        importers.read_daily_file(path)
    lines = DAILY_2025.splitlines(keepends=True)
    dup = write(tmp_path, "dup.csv", "".join([*lines, lines[1]]))
    with pytest.raises(importers.ImportFileError, match="line 5: duplicate row for Code/Date"):
        importers.read_daily_file(dup)


@pytest.mark.django_db
def test_minute_import_uses_bar_end_in_kst_and_is_idempotent(tmp_path: Path) -> None:
    path = write(tmp_path, "005930_1min.csv", MINUTE)
    call_command("import_minute_bars", str(path), verbosity=0)
    first = MinuteBar.objects.order_by("time").first()
    assert first.time == dt.datetime(2018, 1, 17, 0, 1, tzinfo=dt.UTC)  # 09:01 KST
    assert (first.open, first.close, first.volume, first.value) == (2480000, 2484000, 12000, None)
    last = MinuteBar.objects.order_by("time").last()
    assert last.time == dt.datetime(2018, 1, 17, 6, 30, tzinfo=dt.UTC)  # the closing auction
    assert Instrument.objects.get(code="005930").market == Market.OTHER
    before = snapshot()
    assert services.minute_bars_import_file(path).changed == 0
    assert snapshot() == before


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("005930,2018-01-17,0961,1,1,1,1,1", "time_hhmm must be HHMM, got '0961'"),
        ("005930,2018-13-17,0903,1,1,1,1,1", "date is not YYYY-MM-DD"),
        ("005930,2018-01-17,0903,1,1,2,1,1", "High 1 is below Low 2"),
        ("005930,2018-01-17,0903,1,1,1,1,-5", "volume is negative"),
    ],
)
@pytest.mark.django_db
def test_minute_bad_row(tmp_path: Path, row: str, reason: str) -> None:
    path = write(tmp_path, "m.csv", MINUTE + row + "\n")
    with pytest.raises(CommandError, match=f"m.csv: line 5: {reason}"):
        call_command("import_minute_bars", str(path), verbosity=0)
    assert MinuteBar.objects.count() == 0


@pytest.mark.django_db
def test_import_instruments_from_master(tmp_path: Path) -> None:
    InstrumentFactory(code="005930", name="old name", market=Market.OTHER)
    path = write(tmp_path, "master.csv", MASTER)
    call_command("import_instruments", str(path), verbosity=0)
    three_s = Instrument.objects.get(code="060310")
    assert (three_s.name, three_s.market, three_s.board) == ("3S", "KOSDAQ", "벤처기업부")
    assert three_s.sector == "측정, 시험 제조업"
    assert three_s.listing_date == dt.date(2002, 4, 23)
    samsung = Instrument.objects.get(code="005930")
    assert (samsung.name, samsung.market) == ("삼성전자", "KOSPI")
    assert Instrument.objects.get(code="012345").is_administrative
    with pytest.raises(CommandError, match="line 3: Code must be 6 characters"):
        call_command(
            "import_instruments", str(write(tmp_path, "bad.csv", MASTER.replace("005930", "5930")))
        )


@pytest.mark.django_db
def test_minute_bars_upsert_from_aggregated_bars() -> None:
    end = dt.datetime(2025, 2, 3, 0, 1, tzinfo=dt.UTC)
    bar = Bar("000660", end, 100, 110, 90, 105, 10, 1_000)
    assert services.minute_bars_upsert([bar]).changed == 1
    assert services.minute_bars_upsert([bar]).changed == 0
    newer = Bar("000660", end, 100, 120, 90, 115, 12, 1_230)
    assert services.minute_bars_upsert([newer]).changed == 1
    stored = MinuteBar.objects.get()
    assert (stored.high, stored.close, stored.value) == (120, 115, 1_230)


@pytest.mark.django_db
def test_missing_file_and_second_file_failing_keeps_the_first(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"nope\.csv: file not found"):
        call_command("import_daily_bars", str(tmp_path / "nope.csv"), verbosity=0)
    good = write(tmp_path, "good.csv", DAILY_2021)
    bad = write(tmp_path, "bad.csv", DAILY_2025.replace("53700.0,", "x,", 1))
    with pytest.raises(CommandError, match=r"bad\.csv: line 4"):
        call_command("import_daily_bars", str(good), str(bad), verbosity=0)
    # One transaction per file: the good file stays, nothing of the bad one is there.
    assert set(DailyBar.objects.values_list("instrument_id", flat=True)) == {"000660", "141070"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overwrite", [True, False])
def test_insert_race_falls_back_to_on_conflict(overwrite: bool) -> None:
    """If a live writer inserts the same bar between our anti-join and its commit, the load
    falls back to INSERT ... ON CONFLICT instead of failing."""
    from django.db import IntegrityError, connection

    end = dt.datetime(2025, 2, 3, 0, 1, tzinfo=dt.UTC)
    services.minute_bars_upsert([Bar("000660", end, 100, 110, 90, 105, 10, 1_000)])

    def race(execute, sql, params, many, context):
        if "NOT EXISTS" in sql:
            raise IntegrityError("duplicate key value violates unique constraint (simulated)")
        return execute(sql, params, many, context)

    bars = [
        Bar("000660", end, 100, 120, 90, 115, 12, 1_230),
        Bar("000660", end + dt.timedelta(minutes=1), 115, 116, 114, 116, 3, 348),
    ]
    with connection.execute_wrapper(race):
        result = services.minute_bars_upsert(bars, overwrite=overwrite)
    assert result.changed == (2 if overwrite else 1)
    assert MinuteBar.objects.count() == 2
    assert MinuteBar.objects.get(time=end).close == (115 if overwrite else 105)


@pytest.mark.django_db
def test_first_import_copies_directly_and_overlap_takes_the_upsert_path(tmp_path: Path) -> None:
    from django.db import connection

    statements: list[str] = []

    def spy(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    first = write(tmp_path, "first.csv", DAILY_2025)
    with connection.execute_wrapper(spy):
        result = services.daily_bars_import_file(first)
    assert (result.rows, result.changed) == (3, 3)
    assert not any("tmp_bars" in sql for sql in statements)  # straight COPY into the table

    # A file overlapping stored bars (2025-01-03 again, corrected) plus one new day.
    overlap = DAILY_2025.replace("53700.0,", "53900.0,", 1) + (
        '"005930","삼성전자",54000.0,"",1,100.0,0.19,1000.0,54000000.0,53900.0,54100.0,'
        '53800.0,320577322935000.0,5969782550,"KOSPI","STK",1,"2025-01-06"\n'
    )
    statements.clear()
    with connection.execute_wrapper(spy):
        result = services.daily_bars_import_file(write(tmp_path, "overlap.csv", overlap))
    assert any("tmp_bars" in sql for sql in statements)
    assert result.changed == 2  # the correction and the new day
    closes = dict(
        DailyBar.objects.filter(instrument_id="005930").values_list("date", "close")
    )  # fmt: skip
    assert closes == {
        dt.date(2025, 1, 2): 53_400,
        dt.date(2025, 1, 3): 53_900,
        dt.date(2025, 1, 6): 54_000,
    }


@pytest.mark.django_db
def test_direct_copy_yields_to_a_writer_that_got_in_first(tmp_path: Path) -> None:
    """A bar written after the emptiness check makes the direct COPY fail on the unique key; the
    load then takes the upsert path and the file's values win."""
    from django.db import connection

    InstrumentFactory(code="005930")

    def writer_sneaks_in(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("SELECT EXISTS"):
            DailyBarFactory(instrument_id="005930", date=dt.date(2025, 1, 3), close=1)
        return result

    with connection.execute_wrapper(writer_sneaks_in):
        result = services.daily_bars_import_file(write(tmp_path, "d.csv", DAILY_2025))
    assert result.rows == 3
    assert DailyBar.objects.count() == 3
    assert DailyBar.objects.get(instrument_id="005930", date=dt.date(2025, 1, 3)).close == 53_700


@pytest.mark.django_db
def test_2026_integrated_file_loads_with_both_ratio_spellings(tmp_path: Path) -> None:
    # Issue 11 #2: a 2026 file (integrated KRX+NXT prices, both ratio spellings, one empty) loads whole.
    path = tmp_path / "marcap-2026.csv"
    path.write_text(
        '"Code","Name","Close","Dept","ChangeCode","Changes","ChagesRatio","ChangesRatio","Volume",'
        '"Amount","Open","High","Low","Marcap","Stocks","Market","MarketId","Rank","Date"\n'
        '"005930","삼성전자",24050.0,"",1,50.0,,0.21,100.0,2405000.0,24000.0,24075.0,23900.0,'
        '1.0,5969782550,"KOSPI","STK",1,"2026-01-05"\n'
        '"000660","SK하이닉스",171000.0,"",1,100.0,0.06,,10.0,1710000.0,170900.0,171000.0,170900.0,'
        '1.0,728002365,"KOSPI","STK",2,"2026-01-05"\n',
        encoding="utf-8",
    )
    from io import StringIO

    out = StringIO()
    call_command("import_daily_bars", str(path), verbosity=0, stdout=out)
    bar = DailyBar.objects.get(instrument_id="005930", date=dt.date(2026, 1, 5))
    assert (bar.high, bar.prev_close) == (24075, 24000)
    assert "1 rows with integrated KRX+NXT prices between KRX ticks" in out.getvalue()
