"""Corporate-action adjustment on a handmade fixture shaped like Samsung Electronics' 2018 50:1
split (last pre-split close 2,650,000 on 2018-04-27, halted 04-30 to 05-03, base 53,000 on
2018-05-04), read from a marcap-format file."""

from __future__ import annotations

import datetime as dt
import gzip
from fractions import Fraction
from pathlib import Path

import pytest

from apps.broker.backtest import (
    SAMSUNG_SPLIT_2018,
    CorporateAction,
    DailyClose,
    adjust_bars,
    detect_actions,
)
from apps.broker.backtest.adjust import factor_on, read_marcap_closes
from apps.broker.contract import DailyBar, MinuteBar
from krx import KST
from krx.calendar import previous_trading_day

HEADER = '"Code","Name","Close","Changes","Open","High","Low","Volume","Stocks","Date"'
ROWS = [
    # code, close, changes, date — 005930 halted 04-30..05-03 keeps rows (no trade, same close)
    ("005930", 2_607_000, 40_000, "2018-04-26"),
    ("005930", 2_650_000, 43_000, "2018-04-27"),
    ("005930", 2_650_000, 0, "2018-04-30"),
    ("005930", 2_650_000, 0, "2018-05-02"),
    ("005930", 2_650_000, 0, "2018-05-03"),
    ("005930", 51_900, -1_100, "2018-05-04"),  # base 53,000 = 2,650,000 / 50
    ("005930", 51_600, -300, "2018-05-08"),
    ("000660", 87_000, 1_000, "2018-04-27"),
    ("000660", 87_500, 500, "2018-04-30"),
    ("000660", 89_000, 1_000, "2018-05-08"),  # a hole in the data on 05-02..05-04: not an action
]


@pytest.fixture
def marcap(tmp_path: Path) -> Path:
    path = tmp_path / "marcap-2018.csv.gz"
    lines = [HEADER] + [
        f'"{c}","x",{close}.0,{chg}.0,0,0,0,1.0,1,"{day}"' for c, close, chg, day in ROWS
    ]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def test_the_split_is_detected_from_the_base_price(marcap: Path) -> None:
    rows = read_marcap_closes(marcap)
    assert DailyClose("005930", dt.date(2018, 5, 4), 51_900, 53_000) in rows
    assert detect_actions(rows, previous_trading_day) == [SAMSUNG_SPLIT_2018]
    # Without the calendar, the hole in 000660's rows looks like an action.
    assert len(detect_actions(rows)) == 2
    assert detect_actions(read_marcap_closes(marcap, ["000660"]), previous_trading_day) == []


def test_bars_before_the_split_move_to_the_new_basis() -> None:
    pre = MinuteBar(
        "005930", dt.datetime(2018, 1, 31, 9, 5, tzinfo=KST), 2_485_000, 2_486_000, 2_480_000,
        2_484_000, 830,
    )  # fmt: skip
    post = MinuteBar(
        "005930", dt.datetime(2018, 5, 4, 9, 1, tzinfo=KST), 53_000, 53_900, 52_800, 53_500, 10
    )
    other = MinuteBar("000660", pre.at, 87_000, 87_000, 87_000, 87_000, 5)
    adjusted = adjust_bars([pre, post, other], [SAMSUNG_SPLIT_2018])
    assert adjusted[0] == MinuteBar("005930", pre.at, 49_700, 49_720, 49_600, 49_680, 41_500)
    assert adjusted[1] is post and adjusted[2] is other
    daily = DailyBar(
        "005930", dt.date(2018, 4, 27), 2_607_000, 2_650_000, 2_600_000, 2_650_000, 7, 0
    )
    [d] = adjust_bars([daily], [SAMSUNG_SPLIT_2018])
    assert (d.open, d.high, d.low, d.close, d.volume) == (52_140, 53_000, 52_000, 53_000, 350)


def test_factors_compound_and_round_half_up() -> None:
    actions = [
        CorporateAction("X", dt.date(2020, 1, 10), Fraction(2)),
        CorporateAction("X", dt.date(2020, 3, 2), Fraction(1, 5)),  # a 5:1 reverse split
    ]
    assert factor_on("X", dt.date(2020, 1, 9), actions) == Fraction(2, 5)
    assert factor_on("X", dt.date(2020, 2, 1), actions) == Fraction(1, 5)
    assert factor_on("X", dt.date(2020, 3, 2), actions) == 1
    bar = MinuteBar("X", dt.datetime(2020, 1, 9, 10, 0, tzinfo=KST), 1_001, 1_003, 999, 1_001, 7)
    [a] = adjust_bars([bar], actions)
    # prices × 5/2 (half up), volume × 2/5 (3 → half up of 2.8)
    assert (a.open, a.high, a.low, a.close, a.volume) == (2_503, 2_508, 2_498, 2_503, 3)
    with pytest.raises(ValueError):
        CorporateAction("X", dt.date(2020, 1, 1), Fraction(0))
