"""PostgreSQL binary COPY of bar frames: columns encoded in numpy into the wire format (rows sorted in
primary-key order, no per-row Python), streamed in chunks; a row-by-row COPY for frames that cannot be
encoded. Knows nothing of the models: callers name the table, the key column and the value columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

Progress = Callable[[int], object]

_COPY_CHUNK = 20_000


def _column_values(series: pd.Series) -> list:
    if series.dtype == object or isinstance(series.dtype, pd.StringDtype | pd.Int64Dtype):
        return [None if v is pd.NA or v is None else v for v in series.tolist()]
    return series.tolist()


_PG_EPOCH_DAY = np.datetime64("2000-01-01", "D")
_PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us")
_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension
_PG_TRAILER = b"\xff\xff"


def _dates(series: pd.Series) -> np.ndarray:
    """datetime64[D] of a date column (datetime64 or datetime.date objects)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.to_numpy("datetime64[D]")
    # A file repeats a few hundred dates: convert each distinct one once.
    positions, distinct = pd.factorize(series, use_na_sentinel=False)
    return np.array(list(distinct), dtype="datetime64[D]")[positions]


def _times(series: pd.Series) -> np.ndarray:
    """datetime64[us] (UTC) of an aware datetime column."""
    return pd.to_datetime(series, utc=True).dt.tz_localize(None).to_numpy("datetime64[us]")


@dataclass
class Encoded:
    """A bar frame as numpy columns in PostgreSQL's binary wire types, rows in key order."""

    codes: np.ndarray  # S6
    keys: np.ndarray  # int64: days (date) or microseconds (timestamptz) since 2000-01-01
    values: list[np.ndarray]  # int64 per value column
    nulls: list[np.ndarray | None]  # NULL mask per value column (None: no NULL)
    order: np.ndarray  # the frame's row of each encoded row

    def take(self, rows: np.ndarray | slice) -> Encoded:
        return Encoded(
            self.codes[rows],
            self.keys[rows],
            [v[rows] for v in self.values],
            [None if m is None else m[rows] for m in self.nulls],
            self.order[rows],
        )


def encode(frame: pd.DataFrame, key: str, columns: Sequence[str]) -> Encoded | None:
    """Encode a bar frame column-wise, sorted by (code, key): rows in the primary key's order
    turn btree inserts into appends (about 1.7x faster COPY). None when a code is not 6 ASCII
    characters (the caller then writes row by row)."""
    raw = frame["code"].to_numpy()
    if not all(isinstance(v, str) and len(v) == 6 and v.isascii() for v in pd.unique(raw)):
        return None
    codes = raw.astype("S6")
    if key == "date":
        keys = (_dates(frame["date"]) - _PG_EPOCH_DAY).astype(np.int64)
    else:
        keys = (_times(frame[key]) - _PG_EPOCH_US).astype(np.int64)
    values: list[np.ndarray] = []
    nulls: list[np.ndarray | None] = []
    for name in columns:
        series = frame[name]
        missing = series.isna().to_numpy(dtype=bool)
        if missing.any():
            nulls.append(missing)
            values.append(series.fillna(0).to_numpy(dtype=np.int64))
        else:
            nulls.append(None)
            values.append(series.to_numpy(dtype=np.int64))
    # The six code bytes as one big-endian integer sort like the string (C order).
    packed = np.zeros((len(codes), 8), dtype=np.uint8)
    packed[:, 2:] = codes.view(np.uint8).reshape(-1, 6)
    code_order = packed.view(">u8").ravel()
    order = np.lexsort((keys, code_order))
    encoded = Encoded(codes, keys, values, nulls, np.arange(len(codes)))
    if (np.diff(order) == 1).all():
        return encoded
    return encoded.take(order)


def _binary_rows(enc: Encoded, key_width: int) -> np.ndarray:
    """PostgreSQL binary COPY tuples (code, key, values...) as bytes, built in numpy (no
    per-row Python)."""
    n = len(enc.codes)
    key_type = ">i4" if key_width == 4 else ">i8"
    fields = [("count", ">i2"), ("n0", ">i4"), ("v0", "S6"), ("n1", ">i4"), ("v1", key_type)]
    fields += [
        (f"{p}{i}", ">i4" if p == "n" else ">i8")
        for i in range(2, 2 + len(enc.values))
        for p in "nv"
    ]
    layout = np.dtype(fields)  # packed: no alignment padding, as the wire format wants
    rows = np.empty(n, dtype=layout)
    rows["count"] = 2 + len(enc.values)
    rows["n0"], rows["v0"] = 6, enc.codes
    rows["n1"], rows["v1"] = key_width, enc.keys
    for i, (data, missing) in enumerate(zip(enc.values, enc.nulls, strict=True), start=2):
        rows[f"n{i}"] = 8
        rows[f"v{i}"] = data
        if missing is not None:
            rows[f"n{i}"][missing] = -1  # NULL: length -1, no data
    matrix = rows.view(np.uint8).reshape(n, layout.itemsize)
    masks = [(i, m) for i, m in enumerate(enc.nulls, start=2) if m is not None]
    if not masks:
        return matrix.reshape(-1)
    keep = np.ones((n, layout.itemsize), dtype=bool)
    for i, missing in masks:
        offset = layout.fields[f"v{i}"][1]
        keep[missing, offset : offset + 8] = False
    return matrix[keep]  # row-major: each row's kept bytes, rows in order


def copy_encoded(
    cursor, table: str, columns: list[str], enc: Encoded, key_width: int, progress: Progress
) -> None:
    """Binary COPY of encoded rows into `table`, streamed in chunks."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"
    n = len(enc.codes)
    # Django's cursor wraps psycopg's; COPY is only on the latter.
    with cursor.cursor.copy(sql) as copy:
        copy.write(_PG_SIGNATURE)
        for first in range(0, n, _COPY_CHUNK):
            last = min(first + _COPY_CHUNK, n)
            data = _binary_rows(enc.take(slice(first, last)), key_width)
            copy.write(memoryview(data))
            progress(last - first)
        copy.write(_PG_TRAILER)


def copy_rows(
    cursor, table: str, frame: pd.DataFrame, types: list[str], progress: Progress
) -> None:
    """COPY of a frame into `table` (columns in frame order), row by row: the fallback for
    frames `encode` does not handle."""
    sql = f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT binary)"
    columns = [_column_values(frame[c]) for c in frame.columns]
    with cursor.cursor.copy(sql) as copy:
        copy.set_types(types)
        write = copy.write_row
        for start in range(0, len(frame), _COPY_CHUNK):
            for row in zip(*(col[start : start + _COPY_CHUNK] for col in columns), strict=True):
                write(row)
            progress(min(_COPY_CHUNK, len(frame) - start))


def latest_rows(enc: Encoded) -> np.ndarray:
    """The frame row of each code's last (latest key) encoded row."""
    last = np.flatnonzero(np.append(enc.codes[1:] != enc.codes[:-1], True))
    return enc.order[last]
