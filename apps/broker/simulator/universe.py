"""The simulator's universe: a built-in list of real listed KOSPI/KOSDAQ stocks and loaders for
the stock-master, daily-bar and minute-bar file formats of ../shared/data/krx (columns by name).

The built-in numbers (previous close, typical daily volume, listed shares) are plausible round
figures written for the simulator, not market data; prices are on the post-2023 tick grid.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from krx import Market, tick_round

from .dto import Instrument

# code, name, market, prev close, typical daily volume, listed shares, KOSPI200 member
_BUILTIN: tuple[tuple[str, str, str, int, int, int, bool], ...] = (
    ("005930", "삼성전자", "KOSPI", 60_000, 15_000_000, 5_969_782_550, True),
    ("000660", "SK하이닉스", "KOSPI", 200_000, 3_000_000, 728_002_365, True),
    ("373220", "LG에너지솔루션", "KOSPI", 350_000, 300_000, 234_000_000, True),
    ("207940", "삼성바이오로직스", "KOSPI", 1_000_000, 50_000, 71_174_000, True),
    ("005380", "현대차", "KOSPI", 210_000, 600_000, 209_416_191, True),
    ("000270", "기아", "KOSPI", 95_000, 1_200_000, 397_673_816, True),
    ("068270", "셀트리온", "KOSPI", 180_000, 700_000, 216_000_000, True),
    ("035420", "NAVER", "KOSPI", 200_000, 600_000, 158_437_008, True),
    ("035720", "카카오", "KOSPI", 40_000, 2_000_000, 442_000_000, True),
    ("005490", "POSCO홀딩스", "KOSPI", 300_000, 300_000, 84_571_230, True),
    ("051910", "LG화학", "KOSPI", 250_000, 250_000, 70_592_343, True),
    ("006400", "삼성SDI", "KOSPI", 220_000, 400_000, 68_764_530, True),
    ("105560", "KB금융", "KOSPI", 80_000, 1_300_000, 393_000_000, True),
    ("055550", "신한지주", "KOSPI", 50_000, 1_500_000, 509_000_000, True),
    ("012330", "현대모비스", "KOSPI", 250_000, 200_000, 92_000_000, True),
    ("028260", "삼성물산", "KOSPI", 130_000, 300_000, 170_000_000, True),
    ("066570", "LG전자", "KOSPI", 75_000, 700_000, 163_647_814, True),
    ("003550", "LG", "KOSPI", 70_000, 250_000, 157_000_000, True),
    ("017670", "SK텔레콤", "KOSPI", 55_000, 400_000, 214_000_000, True),
    ("015760", "한국전력", "KOSPI", 25_000, 3_000_000, 641_964_077, True),
    ("034020", "두산에너빌리티", "KOSPI", 40_000, 8_000_000, 640_000_000, True),
    ("012450", "한화에어로스페이스", "KOSPI", 700_000, 300_000, 51_000_000, True),
    ("042660", "한화오션", "KOSPI", 70_000, 3_000_000, 306_000_000, True),
    ("329180", "HD현대중공업", "KOSPI", 350_000, 300_000, 88_000_000, True),
    ("010130", "고려아연", "KOSPI", 800_000, 50_000, 20_000_000, True),
    ("096770", "SK이노베이션", "KOSPI", 110_000, 500_000, 151_000_000, True),
    ("009150", "삼성전기", "KOSPI", 130_000, 600_000, 74_000_000, True),
    ("018260", "삼성에스디에스", "KOSPI", 150_000, 150_000, 77_000_000, True),
    ("032830", "삼성생명", "KOSPI", 90_000, 300_000, 200_000_000, True),
    ("086790", "하나금융지주", "KOSPI", 60_000, 1_200_000, 290_000_000, True),
    ("003490", "대한항공", "KOSPI", 22_000, 2_500_000, 368_000_000, True),
    ("010140", "삼성중공업", "KOSPI", 13_000, 15_000_000, 880_000_000, True),
    ("034730", "SK", "KOSPI", 150_000, 150_000, 72_000_000, True),
    ("011200", "HMM", "KOSPI", 20_000, 2_500_000, 1_000_000_000, True),
    ("000100", "유한양행", "KOSPI", 100_000, 500_000, 80_000_000, True),
    ("005935", "삼성전자우", "KOSPI", 50_000, 1_500_000, 822_886_700, False),
    ("001440", "대한전선", "KOSPI", 15_000, 5_000_000, 207_000_000, False),
    ("000880", "한화", "KOSPI", 30_000, 400_000, 75_000_000, False),
    ("003530", "한화투자증권", "KOSPI", 4_000, 2_000_000, 215_000_000, False),
    ("247540", "에코프로비엠", "KOSDAQ", 120_000, 700_000, 97_800_000, False),
    ("086520", "에코프로", "KOSDAQ", 50_000, 1_500_000, 133_000_000, False),
    ("196170", "알테오젠", "KOSDAQ", 400_000, 300_000, 53_000_000, False),
    ("028300", "HLB", "KOSDAQ", 60_000, 1_000_000, 131_000_000, False),
    ("293490", "카카오게임즈", "KOSDAQ", 17_000, 600_000, 82_000_000, False),
    ("263750", "펄어비스", "KOSDAQ", 35_000, 300_000, 64_000_000, False),
    ("058470", "리노공업", "KOSDAQ", 180_000, 100_000, 15_242_370, False),
    ("112040", "위메이드", "KOSDAQ", 30_000, 800_000, 34_000_000, False),
    ("357780", "솔브레인", "KOSDAQ", 200_000, 60_000, 7_779_000, False),
    ("041510", "에스엠", "KOSDAQ", 80_000, 300_000, 23_800_000, False),
    ("035900", "JYP Ent.", "KOSDAQ", 60_000, 400_000, 35_500_000, False),
    ("214150", "클래시스", "KOSDAQ", 50_000, 300_000, 65_000_000, False),
    ("145020", "휴젤", "KOSDAQ", 250_000, 80_000, 12_000_000, False),
    ("039030", "이오테크닉스", "KOSDAQ", 150_000, 100_000, 12_300_000, False),
    ("060310", "3S", "KOSDAQ", 2_500, 1_500_000, 48_000_000, False),
    ("095660", "네오위즈", "KOSDAQ", 20_000, 200_000, 22_000_000, False),
)


def builtin_universe() -> list[Instrument]:
    """The built-in universe, sorted by code."""
    return sorted(
        (
            Instrument(
                code=code,
                name=name,
                market=Market(market),
                prev_close=close,
                listed_shares=shares,
                typical_volume=volume,
                kospi200=k200,
            )
            for code, name, market, close, volume, shares, k200 in _BUILTIN
        ),
        key=lambda i: i.code,
    )


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _synthetic_numbers(code: str) -> tuple[int, int, int]:
    """Deterministic plausible (price, typical volume, listed shares) for a code without data."""
    rng = random.Random(f"universe:{code}")
    price = tick_round(
        int(10 ** rng.uniform(3.3, 5.5)), Market.KOSPI, dt.date(2025, 1, 2), "nearest"
    )
    volume = int(10 ** rng.uniform(4.5, 6.5))
    shares = int(10 ** rng.uniform(7, 8.7))
    return price, volume, shares


def load_master(path: str | Path, codes: Iterable[str] = ()) -> list[Instrument]:
    """Instruments from a stock-master CSV (Code, Name, Market, Industry, ListingDate,
    SettleMonth, ...). Prices/volumes come from the built-in list when the code is there, else
    deterministic plausible numbers. `codes` restricts the result; KONEX rows are skipped."""
    wanted = set(codes)
    builtin = {i.code: i for i in builtin_universe()}
    out: list[Instrument] = []
    with _open_text(Path(path)) as fh:
        for row in csv.DictReader(fh):
            code = (row.get("Code") or "").strip().zfill(6)
            market = (row.get("Market") or "").strip().upper()
            if market.startswith("KOSDAQ"):
                market = "KOSDAQ"
            if market not in ("KOSPI", "KOSDAQ") or (wanted and code not in wanted):
                continue
            listing = (row.get("ListingDate") or "").strip()
            settle = (row.get("SettleMonth") or "12").strip().rstrip("월") or "12"
            base = builtin.get(code)
            if base is None:
                price, volume, shares = _synthetic_numbers(code)
                base = Instrument(code, "", Market(market), price, shares, volume)
            out.append(
                replace(
                    base,
                    name=(row.get("Name") or base.name).strip(),
                    market=Market(market),
                    industry=(row.get("Industry") or "").strip(),
                    settle_month=settle.zfill(2),
                    listing_date=dt.date.fromisoformat(listing) if listing else None,
                )
            )
    return sorted(out, key=lambda i: i.code)


@dataclass(frozen=True, slots=True)
class DailyRow:
    code: str
    date: dt.date
    name: str
    market: str
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    prev_close: int
    listed_shares: int


def _num(value: str | None) -> int:
    if value is None or value.strip() == "":
        return 0
    return int(float(value))


def load_daily(path: str | Path, codes: Iterable[str] = ()) -> dict[dt.date, dict[str, DailyRow]]:
    """Daily bars from a marcap-style CSV(.gz) (Date, Code, Name, Market, Open, High, Low, Close,
    Volume, Amount, Changes, Stocks); previous close = Close - Changes."""
    wanted = set(codes)
    out: dict[dt.date, dict[str, DailyRow]] = {}
    with _open_text(Path(path)) as fh:
        for row in csv.DictReader(fh):
            code = (row.get("Code") or "").strip().zfill(6)
            if wanted and code not in wanted:
                continue
            day = dt.date.fromisoformat(row["Date"].strip()[:10])
            close = _num(row.get("Close"))
            out.setdefault(day, {})[code] = DailyRow(
                code=code,
                date=day,
                name=(row.get("Name") or "").strip(),
                market=(row.get("Market") or "").strip(),
                open=_num(row.get("Open")),
                high=_num(row.get("High")),
                low=_num(row.get("Low")),
                close=close,
                volume=_num(row.get("Volume")),
                value=_num(row.get("Amount")),
                prev_close=close - _num(row.get("Changes")),
                listed_shares=_num(row.get("Stocks")),
            )
    return out


@dataclass(frozen=True, slots=True)
class MinuteRow:
    code: str
    date: dt.date
    hhmm: str  # bar END minute, KST
    open: int
    high: int
    low: int
    close: int
    volume: int


def load_minutes(path: str | Path) -> dict[tuple[str, dt.date], list[MinuteRow]]:
    """Minute bars (code,date,time_hhmm,open,high,low,close,volume; time_hhmm = bar end) grouped
    by (code, date) in time order."""
    out: dict[tuple[str, dt.date], list[MinuteRow]] = {}
    with _open_text(Path(path)) as fh:
        for row in csv.DictReader(fh):
            code = row["code"].strip().zfill(6)
            day = dt.date.fromisoformat(row["date"].strip())
            out.setdefault((code, day), []).append(
                MinuteRow(
                    code=code,
                    date=day,
                    hhmm=row["time_hhmm"].strip().zfill(4),
                    open=_num(row["open"]),
                    high=_num(row["high"]),
                    low=_num(row["low"]),
                    close=_num(row["close"]),
                    volume=_num(row["volume"]),
                )
            )
    for rows in out.values():
        rows.sort(key=lambda r: r.hhmm)
    return out
