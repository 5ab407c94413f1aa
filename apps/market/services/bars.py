"""Bulk bar loads (daily and minute) from import files, frames, aggregated or fetched bars.

On PostgreSQL the first import of a range is a binary COPY straight into the table (`pgcopy`).
Otherwise: binary COPY into a temporary table, then one UPDATE of the stored rows whose values differ
and one INSERT of the rows not stored yet (an anti-join: about twice as fast here as INSERT ... ON
CONFLICT, which stays as the fallback should a live writer insert the same bar meanwhile). Loads of one
table are serialised by an advisory lock. A re-import therefore changes nothing and reports 0 changed
rows. On other databases (the embedded SQLite default) the stored bars of the file's codes and range are
read and only new or differing rows are written with bulk_create(update_conflicts=True): slower, same
counts. Each file is one transaction: a bad row is found by the parser before anything is written, and
a database error rolls the whole file back. Instruments a bar file mentions that do not exist yet are
created in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.market import importers
from apps.market.aggregator import Bar
from apps.market.models import DailyBar, Instrument, Market, MinuteBar
from apps.market.services import pgcopy
from apps.market.services.pgcopy import Encoded, Progress

_BAR_COLUMNS = ("open", "high", "low", "close", "volume", "value")


@dataclass(frozen=True)
class LoadResult:
    source: str
    rows: int
    changed: int  # rows inserted or updated (0 when the data was already there)
    instruments_created: int


@dataclass(frozen=True)
class _BarTable:
    model: type[DailyBar] | type[MinuteBar]
    key: str  # the per-instrument unique column besides code
    columns: tuple[str, ...]  # value columns (all bigint), in COPY order after code and key


_DAILY = _BarTable(
    DailyBar,
    "date",
    ("open", "high", "low", "close", "prev_close", "volume", "value"),
)
_MINUTE = _BarTable(
    MinuteBar,
    "time",
    ("open", "high", "low", "close", "volume", "value"),
)


def _noop(_: int) -> None:
    return None


def _lock_key(table: str) -> int:
    return zlib.crc32(table.encode())


def _known_codes(codes: list[str]) -> set[str]:
    if connection.vendor != "postgresql":
        return set(Instrument.objects.filter(code__in=codes).values_list("code", flat=True))
    with connection.cursor() as cursor:
        # A 2,000-code IN list costs Django more to compile than the query costs to run.
        table = Instrument._meta.db_table
        cursor.execute(f"SELECT code FROM {table} WHERE code = ANY(%s)", [codes])  # noqa: S608
        return {code for (code,) in cursor.fetchall()}


def _create_missing_instruments(
    frame: pd.DataFrame, key: str, described: bool, latest_rows: np.ndarray | None = None
) -> int:
    """Create the instruments a bar frame mentions that do not exist yet (latest row wins).
    `latest_rows`, when given, are the frame's rows holding each code's latest key."""
    if latest_rows is None:
        latest = frame.sort_values(key, kind="stable").drop_duplicates("code", keep="last")
    else:
        latest = frame.take(latest_rows)
    known = _known_codes(latest["code"].tolist())
    if len(known) == len(latest):
        return 0
    latest = latest[~latest["code"].isin(known)]
    columns: dict[str, list] = {"code": latest["code"].tolist()}
    if described:
        boards = latest["board"].fillna("").astype(str).tolist()
        columns["name"] = latest["name"].fillna("").astype(str).tolist()
        columns["market"] = [m or Market.OTHER for m in latest["market"].fillna("").tolist()]
        columns["board"] = boards
        columns["listed_shares"] = [
            None if pd.isna(v) else int(v) for v in latest["listed_shares"].tolist()
        ]
        columns["is_administrative"] = [b.startswith("관리종목") for b in boards]
        columns["is_caution"] = [b.startswith("투자주의환기") for b in boards]
    _insert_instruments(columns)
    return len(latest)


def _insert_instruments(columns: dict[str, list]) -> None:
    """Insert new instruments (field name -> values; other fields take their defaults),
    skipping codes a concurrent writer created meanwhile. On PostgreSQL one INSERT ... SELECT
    FROM unnest(column arrays): Django compiling a 2,000-row bulk_create cost more than the
    COPY of a day's bars."""
    n = len(columns["code"])
    if connection.vendor != "postgresql":
        fresh = [Instrument(**{k: v[i] for k, v in columns.items()}) for i in range(n)]
        Instrument.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=2_000)
        return
    fields = Instrument._meta.concrete_fields
    now = timezone.now()
    arrays = []
    for f in fields:
        if f.attname in columns:
            arrays.append(columns[f.attname])
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            arrays.append([now] * n)
        else:
            arrays.append([f.get_db_prep_save(f.get_default(), connection)] * n)
    casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        # Identifiers and types come from the model; values are parameters.
        cursor.execute(
            f"INSERT INTO {Instrument._meta.db_table} ({names}) "  # noqa: S608
            f"SELECT * FROM unnest({casts}) ON CONFLICT DO NOTHING",
            arrays,
        )


def _copy_in(
    cursor,
    table: str,
    spec: _BarTable,
    frame: pd.DataFrame,
    enc: Encoded | None,
    progress: Progress,
) -> None:
    """COPY the bars into `table`: encoded in numpy when possible, else row by row."""
    columns = ["code", spec.key, *spec.columns]
    key_type = "date" if spec.key == "date" else "timestamptz"
    if enc is not None:
        pgcopy.copy_encoded(cursor, table, columns, enc, 4 if spec.key == "date" else 8, progress)
        return
    types = ["varchar", key_type, *("int8" for _ in spec.columns)]
    ordered = frame.sort_values(["code", spec.key], kind="stable", ignore_index=True)
    pgcopy.copy_rows(cursor, table, ordered[columns], types, progress)


def _copy_direct_if_fresh(
    cursor,
    spec: _BarTable,
    table: str,
    frame: pd.DataFrame,
    enc: Encoded | None,
    progress: Progress,
) -> bool:
    """The first import of a range (no stored bar of these codes between the file's first and last key)
    is a straight binary COPY into the table: no temp table, no join. Returns False, having changed
    nothing, when bars already exist there or a concurrent live writer got in first."""
    keys = frame[spec.key]
    lo, hi = keys.min(), keys.max()
    if isinstance(lo, pd.Timestamp):
        lo, hi = lo.to_pydatetime(), hi.to_pydatetime()
    codes = frame["code"].unique().tolist()
    # Identifiers come from the model specs, never from input; values are parameters.
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {table} WHERE code = ANY(%s) "  # noqa: S608
        f"AND {spec.key} BETWEEN %s AND %s)",
        [codes, lo, hi],
    )
    if cursor.fetchone()[0]:
        return False
    try:
        with transaction.atomic():  # a savepoint: a unique violation leaves nothing behind
            _copy_in(cursor, table, spec, frame, enc, progress)
    except (IntegrityError, psycopg.IntegrityError):
        # COPY runs on the raw psycopg cursor, so its errors arrive untranslated.
        return False
    return True


def _load_postgres(
    spec: _BarTable,
    frame: pd.DataFrame,
    with_instrument_columns: bool,
    progress: Progress,
    overwrite: bool = True,
) -> tuple[int, int]:
    table = spec.model._meta.db_table
    enc = pgcopy.encode(frame, spec.key, spec.columns)
    latest = None if enc is None else pgcopy.latest_rows(enc)
    values = ", ".join(spec.columns)
    key = f"code, {spec.key}"
    key_type = "date" if spec.key == "date" else "timestamptz"
    with connection.cursor() as cursor:
        # Bulk loads of one table run one at a time, so the plain INSERT below cannot race
        # another loader; a concurrent live writer is handled by the ON CONFLICT fallback.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(table)])
        # Bulk loads commit without waiting for the WAL flush: the database stays consistent after a
        # crash, at worst the last fraction of a second of committed loads is lost, and every loader
        # here is idempotent (re-run the import or backfill). Worth ~5% of a large import.
        cursor.execute("SET LOCAL synchronous_commit TO off")
        if _copy_direct_if_fresh(cursor, spec, table, frame, enc, progress):
            created = _create_missing_instruments(frame, spec.key, with_instrument_columns, latest)
            return len(frame), created
        cursor.execute(
            f"CREATE TEMP TABLE tmp_bars (code varchar(6), {spec.key} {key_type}, "
            + ", ".join(f"{c} bigint" for c in spec.columns)
            + ") ON COMMIT DROP"
        )
        _copy_in(cursor, "tmp_bars", spec, frame, enc, progress)
        created = _create_missing_instruments(frame, spec.key, with_instrument_columns, latest)
        mine = ", ".join(f"b.{c}" for c in spec.columns)
        theirs = ", ".join(f"t.{c}" for c in spec.columns)
        changed = 0
        if overwrite:
            # Identifiers below come from the model specs above, never from input.
            cursor.execute(
                f"UPDATE {table} b SET ({values}) = ({theirs}) FROM tmp_bars t "  # noqa: S608
                f"WHERE b.code = t.code AND b.{spec.key} = t.{spec.key} "
                f"AND ({mine}) IS DISTINCT FROM ({theirs})"
            )
            changed = cursor.rowcount
        # A plain anti-join INSERT is about twice as fast as INSERT ... ON CONFLICT here.
        insert = (
            f"INSERT INTO {table} ({key}, {values}) "  # noqa: S608
            f"SELECT {key}, {values} FROM tmp_bars t WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} b WHERE b.code = t.code AND b.{spec.key} = t.{spec.key}) "
            f"ORDER BY code, {spec.key}"
        )
        try:
            with transaction.atomic():
                cursor.execute(insert)
        except IntegrityError:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in spec.columns)
            stored = ", ".join(f"{table}.{c}" for c in spec.columns)
            excluded = ", ".join(f"EXCLUDED.{c}" for c in spec.columns)
            action = (
                f"DO UPDATE SET {updates} WHERE ({stored}) IS DISTINCT FROM ({excluded})"
                if overwrite
                else "DO NOTHING"
            )
            cursor.execute(
                f"INSERT INTO {table} ({key}, {values}) SELECT {key}, {values} "  # noqa: S608
                f"FROM tmp_bars ON CONFLICT ({key}) {action}"
            )
        changed += cursor.rowcount
        cursor.execute("DROP TABLE tmp_bars")
    return changed, created


def _stored_bars(spec: _BarTable, codes: list[str], lo: object, hi: object) -> dict[tuple, tuple]:
    """(code, key) -> value columns of the stored bars of `codes` with keys in [lo, hi]."""
    stored: dict[tuple, tuple] = {}
    for start in range(0, len(codes), 500):  # SQLite caps the parameters of one query
        rows = spec.model.objects.filter(
            instrument_id__in=codes[start : start + 500],
            **{f"{spec.key}__gte": lo, f"{spec.key}__lte": hi},
        ).values_list("instrument_id", spec.key, *spec.columns)
        for row in rows.iterator(chunk_size=10_000):
            stored[row[0], row[1]] = row[2:]
    return stored


def _load_generic(
    spec: _BarTable,
    frame: pd.DataFrame,
    with_instrument_columns: bool,
    progress: Progress,
    overwrite: bool = True,
) -> tuple[int, int]:
    """Portable path (SQLite): reads the stored bars of the file's codes and key range, then
    upserts only the rows that are new or (with overwrite) differ, so a re-import reports 0
    changed rows here too."""
    created = _create_missing_instruments(frame, spec.key, with_instrument_columns)
    records = []
    for rec in frame[["code", spec.key, *spec.columns]].to_dict("records"):
        key = rec[spec.key]
        if isinstance(key, pd.Timestamp):
            key = key.to_pydatetime()
        values = tuple(None if pd.isna(rec[c]) else int(rec[c]) for c in spec.columns)
        records.append((rec["code"], key, values))
    keys = [k for _, k, _ in records]
    stored = _stored_bars(spec, sorted({c for c, _, _ in records}), min(keys), max(keys))
    objs = []
    for code, key, values in records:
        old = stored.get((code, key))
        if old is None or (overwrite and old != values):
            objs.append(
                spec.model(
                    instrument_id=code,
                    **{spec.key: key},
                    **dict(zip(spec.columns, values, strict=True)),
                )
            )
    progress(len(records) - len(objs))
    for start in range(0, len(objs), 5_000):
        batch = objs[start : start + 5_000]
        if overwrite:
            spec.model.objects.bulk_create(
                batch,
                update_conflicts=True,
                unique_fields=["instrument", spec.key],
                update_fields=list(spec.columns),
            )
        else:
            spec.model.objects.bulk_create(batch, ignore_conflicts=True)
        progress(len(batch))
    return len(objs), created


def _load(
    spec: _BarTable,
    frame: pd.DataFrame,
    source: str,
    with_instrument_columns: bool,
    progress: Progress | None,
    overwrite: bool = True,
) -> LoadResult:
    progress = progress or _noop
    if frame.empty:
        return LoadResult(source, 0, 0, 0)
    loader = _load_postgres if connection.vendor == "postgresql" else _load_generic
    with transaction.atomic():
        changed, created = loader(spec, frame, with_instrument_columns, progress, overwrite)
    return LoadResult(source, len(frame), changed, created)


def daily_bars_import_file(path: Path | str, progress: Progress | None = None) -> LoadResult:
    """Load one KRX daily file; unknown codes become instruments (name, market, board)."""
    return daily_bars_load(importers.read_daily_file(path), str(path), progress)


def daily_bars_load(
    frame: pd.DataFrame, source: str = "frame", progress: Progress | None = None
) -> LoadResult:
    """Load a frame from `importers.read_daily_file` (one transaction)."""
    return _load(_DAILY, frame, source, True, progress)


def minute_bars_import_file(path: Path | str, progress: Progress | None = None) -> LoadResult:
    """Load one minute-bar file (no traded value in that format: value stays NULL)."""
    return minute_bars_load(importers.read_minute_file(path), str(path), progress)


def minute_bars_load(
    frame: pd.DataFrame, source: str = "frame", progress: Progress | None = None
) -> LoadResult:
    """Load a frame from `importers.read_minute_file` (one transaction)."""
    frame["value"] = pd.Series([pd.NA] * len(frame), dtype="Int64")
    return _load(_MINUTE, frame, source, False, progress)


def minute_bars_upsert(
    bars: Iterable[Bar], source: str = "bars", overwrite: bool = True
) -> LoadResult:
    """Write aggregated or fetched minute bars (idempotent). With overwrite=False only missing
    bars are inserted: backfill fills gaps and never replaces a stored bar."""
    rows = [(b.code, b.end, b.open, b.high, b.low, b.close, b.volume, b.value) for b in bars]
    frame = pd.DataFrame(rows, columns=["code", "time", *_BAR_COLUMNS])
    if not frame.empty:
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        frame["value"] = frame["value"].astype("Int64")
    return _load(_MINUTE, frame, source, False, None, overwrite)


@dataclass(frozen=True)
class DailyRow:
    code: str
    date: dt.date
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    prev_close: int | None = None


def daily_bars_upsert(
    rows: Sequence[DailyRow], source: str = "rows", overwrite: bool = True
) -> LoadResult:
    frame = pd.DataFrame(
        [
            (r.code, r.date, r.open, r.high, r.low, r.close, r.prev_close, r.volume, r.value)
            for r in rows
        ],
        columns=["code", "date", *_DAILY.columns],
    )
    if not frame.empty:
        frame["prev_close"] = frame["prev_close"].astype("Int64")
    return _load(_DAILY, frame, source, False, None, overwrite)
