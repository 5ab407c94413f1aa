"""Parsers and validators for the KRX file formats the market app imports.

Framework-free: each `read_*` function turns one file into a clean pandas frame with integer
KRW columns and aware UTC times, or raises `ImportFileError` naming the file, the line and the
reason for the FIRST bad row (line numbers count the header as line 1). Writing is done by
`apps.market.services`.

Formats (see the README's market-data section):
- daily (KRX all-stock, marcap-YYYY.csv[.gz]): columns read by name, order varies by year;
  required Date, Code, Open, High, Low, Close, Volume, Amount; optional Name, Market, Dept,
  Changes, ChangesRatio (also spelled ChagesRatio), Stocks. Prices may be written as floats
  ("83000.0") but must be whole won; from 2025-03-04 (Nextrade) prices are integrated KRX+NXT and may
  sit between KRX ticks.
- minute: code,date,time_hhmm,open,high,low,close,volume with time_hhmm the bar END minute
  in KST (0901 = 09:00:00-09:00:59).
- master (stock master): Code, Name, Market, Sector (the board), Industry, ListingDate, ...
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import krx
from krx import KST
from krx.codes import is_stock_code

DAILY_REQUIRED = ("Date", "Code", "Open", "High", "Low", "Close", "Volume", "Amount")
CHANGE_RATIO_SPELLINGS = ("ChangesRatio", "ChagesRatio")
# Nextrade (NXT) opened on 2025-03-04; from then on the all-stock files carry integrated KRX+NXT prices.
INTEGRATED_PRICES_SINCE = dt.date(2025, 3, 4)
MINUTE_COLUMNS = ("code", "date", "time_hhmm", "open", "high", "low", "close", "volume")
MASTER_REQUIRED = ("Code", "Name", "Market")

_MARKETS = {"KOSPI": "KOSPI", "KOSDAQ": "KOSDAQ", "KOSDAQ GLOBAL": "KOSDAQ", "KONEX": "KONEX"}


class ImportFileError(ValueError):
    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{self.path}: {where}{reason}")


def _read_csv(path: Path, dtype: dict[str, type], encoding: str = "utf-8") -> pd.DataFrame:
    try:
        return pd.read_csv(
            path,
            dtype=dtype,
            keep_default_na=False,
            na_values=[""],
            compression="infer",
            encoding=encoding,
        )
    except FileNotFoundError:
        raise ImportFileError(path, None, "file not found") from None
    except (UnicodeDecodeError, pd.errors.ParserError, EOFError, OSError) as exc:
        raise ImportFileError(path, None, f"unreadable CSV: {exc}") from exc


def _require_columns(path: Path, df: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ImportFileError(path, 1, f"missing column(s) {', '.join(missing)}")


Check = tuple[np.ndarray, Callable[[int], str]]


def _raise_first(path: Path, checks: list[Check]) -> None:
    """Raise for the earliest row that fails any check (checks are in priority order)."""
    first: tuple[int, str] | None = None
    for mask, reason in checks:
        bad = np.flatnonzero(mask)
        if bad.size and (first is None or bad[0] < first[0]):
            first = (int(bad[0]), reason(int(bad[0])))
    if first is not None:
        raise ImportFileError(path, first[0] + 2, first[1])


def _numbers(df: pd.DataFrame, columns: Sequence[str], checks: list[Check]) -> dict[str, pd.Series]:
    """Whole, non-negative numbers per column; failing rows are added to `checks`."""
    out: dict[str, pd.Series] = {}
    for col in columns:
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        values = num.to_numpy()
        nan = np.isnan(values)
        checks.append(
            (nan, lambda i, c=col, r=raw: f"{c} is not a number: {r.iloc[i]!r}"),
        )
        frac = ~nan & (np.floor(values) != values)
        checks.append((frac, lambda i, c=col, r=raw: f"{c} is not a whole number: {r.iloc[i]!r}"))
        neg = ~nan & (values < 0)
        checks.append((neg, lambda i, c=col, r=raw: f"{c} is negative: {r.iloc[i]!r}"))
        out[col] = num
    return out


def _codes(df: pd.DataFrame, col: str, checks: list[Check]) -> pd.Series:
    codes = df[col].fillna("").astype(str)
    # A file repeats a few thousand codes many times: check each distinct code once.
    bad_codes = [c for c in codes.unique() if not is_stock_code(c)]
    bad = codes.isin(bad_codes).to_numpy(dtype=bool)
    why = f"{col} must be 6 characters (a digit, then digits or capitals)"
    checks.append((bad, lambda i: f"{why}, got {codes.iloc[i]!r}"))
    return codes


def _int(series: pd.Series, valid: np.ndarray) -> np.ndarray:
    return np.where(valid, series.fillna(0).to_numpy(), 0).astype(np.int64)


def _ohlc_checks(
    o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, traded: np.ndarray
) -> list[Check]:
    return [
        (traded & (h < lo), lambda i: f"High {h[i]} is below Low {lo[i]}"),
        (
            traded & ((o > h) | (o < lo) | (c > h) | (c < lo)),
            lambda i: f"Open {o[i]} / Close {c[i]} outside Low {lo[i]} .. High {h[i]}",
        ),
        (traded & (lo <= 0), lambda i: f"Low must be positive on a traded row, got {lo[i]}"),
    ]


def _duplicates(keys: pd.DataFrame, label: str) -> Check:
    dup = keys.duplicated(keep="first").to_numpy()
    return dup, lambda i: f"duplicate row for {label} {' '.join(map(str, keys.iloc[i]))}"


def tick_sizes(prices: np.ndarray, kospi: np.ndarray, unified: np.ndarray) -> np.ndarray:
    """Vectorised `krx.tick_size` over rows: `kospi` marks KOSPI rows (others use the KOSDAQ
    table, as KONEX did), `unified` rows dated on or after krx.UNIFIED_TICK_TABLE_SINCE."""
    out = np.zeros(len(prices), dtype=np.int64)
    for market, in_market in (("KOSPI", kospi), ("KOSDAQ", ~kospi)):
        for after in (False, True):
            rows = in_market & (unified if after else ~unified)
            if not rows.any():
                continue
            on = krx.UNIFIED_TICK_TABLE_SINCE - dt.timedelta(days=0 if after else 1)
            table = krx.tick_table(market, on)
            bounds = np.array([b for b, _ in table if b is not None], dtype=np.int64)
            ticks = np.array([t for _, t in table], dtype=np.int64)
            out[rows] = ticks[np.searchsorted(bounds, prices[rows], side="right")]
    return out


def read_daily_file(path: Path | str) -> pd.DataFrame:
    """Daily bars: code, date, open, high, low, close, prev_close, volume, value (+ instrument
    columns name, market, board, listed_shares for creating unknown instruments)."""
    path = Path(path)
    df = _read_csv(path, dtype={"Code": str, "Date": str, "Name": str, "Dept": str, "Market": str})
    _require_columns(path, df, DAILY_REQUIRED)
    df = _change_ratio_alias(df)
    checks: list[Check] = []
    codes = _codes(df, "Code", checks)
    # A file repeats a few hundred dates: parse each distinct one once.
    date_rows, date_strings = pd.factorize(df["Date"], use_na_sentinel=False)
    distinct_dates = pd.to_datetime(
        pd.Series(date_strings, dtype=object), format="%Y-%m-%d", errors="coerce"
    )
    dates = pd.Series(distinct_dates.to_numpy()[date_rows])
    checks.append(
        (dates.isna().to_numpy(), lambda i: f"Date is not YYYY-MM-DD: {df['Date'].iloc[i]!r}")
    )
    numeric = [c for c in ("Open", "High", "Low", "Close", "Volume", "Amount") if c in df]
    optional_numeric = [c for c in ("Changes", "Stocks", "ChangesRatio") if c in df]
    nums = _numbers(df, numeric, checks)
    valid = np.ones(len(df), dtype=bool)
    for mask, _ in checks:
        valid &= ~mask
    o, h, lo, c = (_int(nums[k], valid) for k in ("Open", "High", "Low", "Close"))
    volume = _int(nums["Volume"], valid)
    # O/H/L all zero = no regular-session trade (a halt, or after-hours trades only: Volume
    # includes them); such a day is stored as a flat bar at the close.
    idle = (o == 0) & (h == 0) & (lo == 0)
    checks += _ohlc_checks(o, h, lo, c, valid & ~idle)
    checks.append((valid & (c <= 0), lambda i: f"Close must be positive, got {c[i]}"))
    # A KRX-only price is on the tick grid in force that day (krx's dated tables); off the grid it
    # means a shifted column or a corrupt value. Since Nextrade opened (INTEGRATED_PRICES_SINCE) the files
    # carry integrated KRX+NXT prices, and NXT's midpoint executions land between ticks (24,075 where the
    # tick is 50): such a price is real, stored as given and counted (frame.attrs["off_grid_rows"]).
    # Order prices never come from bars; they go through krx.tick_round.
    off_grid_rows = np.zeros(len(df), dtype=bool)
    if "Market" in df:
        market_names = df["Market"].fillna("").astype(str).to_numpy()
        day64 = dates.to_numpy(dtype="datetime64[D]")
        kospi = market_names == "KOSPI"
        unified = day64 >= np.datetime64(krx.UNIFIED_TICK_TABLE_SINCE)
        integrated = day64 >= np.datetime64(INTEGRATED_PRICES_SINCE)
        dated = ~np.isnat(day64)
        for name, col in (("Open", o), ("High", h), ("Low", lo), ("Close", c)):
            priced = valid & (col > 0) & dated
            tick = np.ones(len(col), dtype=np.int64)
            tick[priced] = tick_sizes(col[priced], kospi[priced], unified[priced])
            off = priced & (col % tick != 0)
            off_grid_rows |= off & integrated
            checks.append(
                (
                    off & ~integrated,
                    lambda i, n=name, v=col, t=tick: (
                        f"{n} {v[i]} is off the tick grid "
                        f"(tick {t[i]} for {market_names[i] or 'no market'} on {df['Date'].iloc[i]})"
                    ),
                )
            )
    checks.append(_duplicates(pd.DataFrame({"c": codes, "d": df["Date"]}), "Code/Date"))
    _raise_first(path, checks)

    o = np.where(idle, c, o)
    h = np.where(idle, c, h)
    lo = np.where(idle, c, lo)
    out = pd.DataFrame(
        {
            "code": codes.to_numpy(),
            "date": np.array(
                [None if pd.isna(d) else d.date() for d in distinct_dates], dtype=object
            )[date_rows],
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": volume,
            "value": _int(nums["Amount"], valid),
        }
    )
    if "Changes" in optional_numeric:
        changes = pd.to_numeric(df["Changes"], errors="coerce")
        prev = (pd.Series(c) - changes.round()).astype("Int64")
        out["prev_close"] = prev.where(changes.notna())
    else:
        out["prev_close"] = pd.Series([pd.NA] * len(df), dtype="Int64")
    out["name"] = df["Name"].fillna("").astype(str) if "Name" in df else ""
    out["market"] = df["Market"].map(_MARKETS).fillna("OTHER") if "Market" in df else "OTHER"
    out["board"] = df["Dept"].fillna("").astype(str) if "Dept" in df else ""
    if "Stocks" in optional_numeric:
        out["listed_shares"] = pd.to_numeric(df["Stocks"], errors="coerce").round().astype("Int64")
    else:
        out["listed_shares"] = pd.Series([pd.NA] * len(df), dtype="Int64")
    if "ChangesRatio" in df:
        # Percent, read for completeness (not stored: the previous close comes from Changes).
        out["change_rate"] = pd.to_numeric(df["ChangesRatio"], errors="coerce")
    out.attrs["off_grid_rows"] = int(off_grid_rows.sum())
    return out


def _change_ratio_alias(df: pd.DataFrame) -> pd.DataFrame:
    """One `ChangesRatio` column whichever way the file spells it. The upstream files wrote
    `ChagesRatio` for years and `ChangesRatio` later, some with both columns and one of them empty:
    the value is taken from whichever is filled."""
    spellings = [c for c in CHANGE_RATIO_SPELLINGS if c in df.columns]
    if not spellings:
        return df
    merged = df[spellings[0]]
    for other in spellings[1:]:
        merged = merged.where(merged.notna(), df[other])
    df = df.drop(columns=spellings)
    df["ChangesRatio"] = merged
    return df


_HHMM = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")


def read_minute_file(path: Path | str) -> pd.DataFrame:
    """Minute bars: code, time (aware UTC bar end), open, high, low, close, volume."""
    path = Path(path)
    df = _read_csv(path, dtype={"code": str, "date": str, "time_hhmm": str})
    _require_columns(path, df, MINUTE_COLUMNS)
    checks: list[Check] = []
    codes = _codes(df, "code", checks)
    hhmm = df["time_hhmm"].fillna("").astype(str).str.strip()
    checks.append(
        (
            ~hhmm.str.match(_HHMM.pattern).to_numpy(dtype=bool),
            lambda i: f"time_hhmm must be HHMM, got {hhmm.iloc[i]!r}",
        )
    )
    local = pd.to_datetime(
        df["date"].fillna("").astype(str) + " " + hhmm, format="%Y-%m-%d %H%M", errors="coerce"
    )
    checks.append(
        (
            local.isna().to_numpy() & hhmm.str.match(_HHMM.pattern).to_numpy(dtype=bool),
            lambda i: f"date is not YYYY-MM-DD: {df['date'].iloc[i]!r}",
        )
    )
    nums = _numbers(df, ("open", "high", "low", "close", "volume"), checks)
    valid = np.ones(len(df), dtype=bool)
    for mask, _ in checks:
        valid &= ~mask
    o, h, lo, c = (_int(nums[k], valid) for k in ("open", "high", "low", "close"))
    checks += _ohlc_checks(o, h, lo, c, valid)
    checks.append(_duplicates(pd.DataFrame({"c": codes, "d": df["date"], "t": hhmm}), "code/time"))
    _raise_first(path, checks)
    times = local.dt.tz_localize(KST).dt.tz_convert("UTC")
    return pd.DataFrame(
        {
            "code": codes.to_numpy(),
            "time": times.to_numpy(),
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": _int(nums["volume"], valid),
        }
    )


def read_master_file(path: Path | str) -> pd.DataFrame:
    """Stock master rows: code, name, market, board, sector, listing_date (date or None)."""
    path = Path(path)
    df = _read_csv(path, dtype={"Code": str, "ListingDate": str}, encoding="utf-8-sig")
    _require_columns(path, df, MASTER_REQUIRED)
    checks: list[Check] = []
    codes = _codes(df, "Code", checks)
    names = df["Name"].fillna("").astype(str).str.strip()
    checks.append(((names == "").to_numpy(), lambda i: "Name is empty"))
    listing = (
        pd.to_datetime(df["ListingDate"], format="%Y-%m-%d", errors="coerce")
        if "ListingDate" in df
        else pd.Series([pd.NaT] * len(df))
    )
    if "ListingDate" in df:
        checks.append(
            (
                (listing.isna() & df["ListingDate"].notna()).to_numpy(),
                lambda i: f"ListingDate is not YYYY-MM-DD: {df['ListingDate'].iloc[i]!r}",
            )
        )
    checks.append(_duplicates(pd.DataFrame({"c": codes}), "Code"))
    _raise_first(path, checks)

    def text(col: str) -> pd.Series:
        return (
            df[col].fillna("").astype(str).str.strip() if col in df else pd.Series([""] * len(df))
        )

    return pd.DataFrame(
        {
            "code": codes.to_numpy(),
            "name": names.to_numpy(),
            "market": df["Market"].map(_MARKETS).fillna("OTHER").to_numpy(),
            "board": text("Sector").to_numpy(),
            "sector": text("Industry").to_numpy(),
            "listing_date": [None if pd.isna(x) else x.date() for x in listing],
        }
    )
