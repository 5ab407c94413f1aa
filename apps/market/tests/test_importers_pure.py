"""Property tests of the file parsers (no database)."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import krx
from apps.market import importers

MARKETS = st.sampled_from(["KOSPI", "KOSDAQ", "KOSDAQ GLOBAL", "KONEX"])
DATES = st.dates(dt.date(2018, 1, 1), dt.date(2026, 12, 31))


@given(st.lists(st.tuples(st.integers(1, 3_000_000), MARKETS, DATES), min_size=1, max_size=50))
def test_vectorised_tick_sizes_match_krx(rows: list[tuple[int, str, dt.date]]) -> None:
    prices = np.array([p for p, _, _ in rows], dtype=np.int64)
    kospi = np.array([m == "KOSPI" for _, m, _ in rows])
    unified = np.array([d >= krx.UNIFIED_TICK_TABLE_SINCE for _, _, d in rows])
    expected = [krx.tick_size(p, "KOSPI" if m == "KOSPI" else "KOSDAQ", d) for p, m, d in rows]
    assert importers.tick_sizes(prices, kospi, unified).tolist() == expected


row = st.builds(
    lambda code, market, day, price, vol: (code, market, day, price, vol),
    st.integers(0, 999_999).map(lambda n: f"{n:06d}"),
    MARKETS,
    DATES,
    st.integers(100, 2_000_000),
    st.integers(0, 10**9),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(row, min_size=1, max_size=30, unique_by=lambda r: (r[0], r[2])))
def test_daily_rows_round_trip(tmp_path: Path, rows: list) -> None:
    lines = ["Date,Code,Name,Market,Dept,Open,High,Low,Close,Volume,Amount,Changes,Stocks"]
    expected = []
    for code, market, day, price, vol in rows:
        m = "KOSPI" if market == "KOSPI" else "KOSDAQ"
        close = krx.tick_round(price, m, day)
        high = close + krx.tick_size(close, m, day)
        low = krx.tick_round(max(close - 3 * krx.tick_size(close, m, day), 1), m, day, "up")
        lines.append(
            f'{day},"{code}",이름,{market},,{float(close)},{float(high)},{float(low)},'
            f"{float(close)},{float(vol)},{float(vol * close)},0.0,1000"
        )
        expected.append((code, day, close, high, low, close, vol, vol * close))
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    frame = importers.read_daily_file(path)
    got = list(
        frame[["code", "date", "open", "high", "low", "close", "volume", "value"]].itertuples(
            index=False, name=None
        )
    )
    assert got == expected


def test_off_grid_price_names_line_and_tick(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "Date,Code,Market,Open,High,Low,Close,Volume,Amount\n"
        "2025-01-02,005930,KOSPI,53000,53600,52300,53400,10,534000\n"
        "2025-01-02,000660,KOSPI,171000,172200,170000,171250,10,1712500\n",
        encoding="utf-8",
    )
    with pytest.raises(importers.ImportFileError) as info:
        importers.read_daily_file(path)
    assert info.value.line == 3
    assert "Close 171250 is off the tick grid (tick 100 for KOSPI on 2025-01-02)" in str(info.value)


def _daily(tmp_path: Path, header: str, *rows: str) -> Path:
    path = tmp_path / "d.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_integrated_krx_nxt_half_tick_prices_are_stored_as_given_and_counted(
    tmp_path: Path,
) -> None:
    # Issue 11 #2: since Nextrade (2025-03-04) the files carry integrated prices; NXT midpoint executions
    # sit between KRX ticks (24,075 where the tick is 50). One such value used to refuse the whole file.
    path = _daily(
        tmp_path,
        "Date,Code,Market,Open,High,Low,Close,Volume,Amount",
        "2026-01-05,005930,KOSPI,24000,24075,23900,24050,10,240500",
        "2026-01-05,000660,KOSPI,171000,172200,170000,171300,10,1713000",
        "2026-01-05,035720,KOSDAQ,50000,50100,49875,50000,10,500000",
    )
    frame = importers.read_daily_file(path)
    assert frame["high"].tolist()[0] == 24075
    assert frame["low"].tolist()[2] == 49875
    assert frame.attrs["off_grid_rows"] == 2


def test_integrated_files_still_refuse_corrupt_rows(tmp_path: Path) -> None:
    header = "Date,Code,Market,Open,High,Low,Close,Volume,Amount"
    cases = {
        "2026-01-05,005930,KOSPI,24000,23900,24075,24000,10,240500": "High 23900 is below Low 24075",
        "2026-01-05,005930,KOSPI,24000,24075,-23900,24050,10,240500": "Low is negative",
        # a shifted column: the volume where the close belongs
        "2026-01-05,005930,KOSPI,24000,24075,23900,1234567,24050,240500": "outside Low",
    }
    for row, reason in cases.items():
        with pytest.raises(importers.ImportFileError) as info:
            importers.read_daily_file(_daily(tmp_path, header, row))
        assert info.value.line == 2
        assert reason in str(info.value)


def test_change_ratio_is_read_under_either_spelling(tmp_path: Path) -> None:
    base = "2026-01-05,005930,KOSPI,24000,24075,23900,24050,10,240500,50"
    for header, tail in [
        ("ChagesRatio", ",0.21"),
        ("ChangesRatio", ",0.21"),
        ("ChagesRatio,ChangesRatio", ",,0.21"),
        ("ChagesRatio,ChangesRatio", ",0.21,"),
    ]:
        path = _daily(
            tmp_path,
            f"Date,Code,Market,Open,High,Low,Close,Volume,Amount,Changes,{header}",
            base + tail,
        )
        frame = importers.read_daily_file(path)
        assert frame["change_rate"].tolist() == [0.21], header
        assert frame["prev_close"].tolist() == [24000]
