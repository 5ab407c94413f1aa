"""Importer of the KRX index daily files (`../shared/data/krx/index/year_ks11/YYYY.csv` and the like).

Columns used: `Date, Close, Comp (change), Open, High, Low, Volume, Amount`; the index code comes from the
folder name (`year_ks11` → KS11) or is given. A file with a bad row is refused whole (the error names the
file and line) and writes nothing; rows are upserted, so importing a file again changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction

from apps.reports.models import IndexDailyBar

REQUIRED = ("Date", "Close", "Open", "High", "Low")
CODE = re.compile(r"^[A-Z0-9]{2,8}$")


class IndexFileError(ValueError):
    pass


def index_code_of(path: Path) -> str | None:
    folder = path.parent.name.lower()
    return folder.removeprefix("year_").upper() if folder.startswith("year_") else None


def _points(raw: str) -> Decimal:
    return Decimal(raw).quantize(Decimal("0.01"))


def read_index_file(path: Path, code: str) -> list[IndexDailyBar]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise IndexFileError(f"{path}: missing columns {', '.join(missing)}")
        bars = []
        for line, row in enumerate(reader, start=2):
            try:
                close = _points(row["Close"])
                bar = IndexDailyBar(
                    index_code=code,
                    date=dt.date.fromisoformat(row["Date"][:10]),
                    open=_points(row["Open"]),
                    high=_points(row["High"]),
                    low=_points(row["Low"]),
                    close=close,
                    prev_close=close - _points(row["Comp"]) if row.get("Comp") else None,
                    volume=int(float(row.get("Volume") or 0)),
                    value=int(float(row.get("Amount") or 0)),
                )
            except (ValueError, InvalidOperation, TypeError) as exc:
                raise IndexFileError(f"{path}:{line}: {exc.__class__.__name__}") from None
            if not (bar.low <= min(bar.open, bar.close) and max(bar.open, bar.close) <= bar.high):
                raise IndexFileError(f"{path}:{line}: open/close outside low-high")
            bars.append(bar)
    return bars


def index_import(paths: list[Path], code: str | None = None) -> int:
    """Import the files (all or nothing); returns the number of bars written."""
    loaded: list[IndexDailyBar] = []
    for path in paths:
        found = code or index_code_of(path)
        if not found:
            raise IndexFileError(
                f"{path}: give the index code (e.g. KS11): the folder does not say"
            )
        if not CODE.match(found.upper()):
            raise IndexFileError(f"{path}: index code {found!r}: 2–8 letters or digits (e.g. KS11)")
        loaded.extend(read_index_file(path, found.upper()))
    with transaction.atomic():
        IndexDailyBar.objects.bulk_create(
            loaded,
            update_conflicts=True,
            unique_fields=["index_code", "date"],
            update_fields=["open", "high", "low", "close", "prev_close", "volume", "value"],
            batch_size=1000,
        )
    return len(loaded)
