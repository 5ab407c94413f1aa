"""Daily-bar import throughput into PostgreSQL (rows/s), parse and database phases separately.

Run against a database of your own (it TRUNCATEs the market bar tables):
    createdb -h 127.0.0.1 -U postgres bench_market
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_market \\
        .venv/bin/python bench/market_import.py [FILE.csv.gz ...]
Without files it generates 400,000 rows in the KRX daily format (2,000 codes x 200 days) in a
temporary directory, so the bench never needs the licensed data.
"""

import datetime as dt
import gzip
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_market")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from apps.market import importers, services  # noqa: E402


def synthetic_files(directory: Path, codes: int = 2_000, days: int = 200) -> list[Path]:
    rng = np.random.default_rng(11)
    header = "Code,Name,Market,Dept,Close,ChangeCode,Changes,ChagesRatio,Open,High,Low,Volume,"
    header += "Amount,Marcap,Stocks,MarketId,Rank,Date\n"
    files = []
    start = dt.date(2023, 1, 2)
    per_file = 50
    for f in range(days // per_file):
        path = directory / f"synthetic-{f}.csv.gz"
        lines = [header]
        for d in range(per_file):
            day = (start + dt.timedelta(days=f * per_file + d)).isoformat()
            # Multiples of 1,000 are on every band of the KRX tick grid.
            close = rng.integers(2, 200, codes) * 1_000
            for i in range(codes):
                c = int(close[i])
                lines.append(
                    f'"{i:06d}","종목{i}","KOSPI","",{c}.0,"1",10.0,0.1,{c}.0,{c + 1000}.0,'
                    f'{c - 1000}.0,1000.0,{c * 1000}.0,{c * 10**6}.0,1000000,"STK",{i + 1},"{day}"\n'
                )
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.writelines(lines)
        files.append(path)
    return files


def main() -> None:
    name = connection.settings_dict["NAME"]
    if name in ("test", "stockagent"):
        raise SystemExit(f"refusing to benchmark against database {name!r}")
    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(a) for a in sys.argv[1:]] or synthetic_files(Path(tmp))
        # Best of three full loads into empty tables: the machine is shared, take the least
        # disturbed run. Parse CPU time is printed too, to tell contention from cost.
        best: tuple[float, float, float] | None = None
        total_rows = 0
        for _ in range(3):
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE market_dailybar, market_minutebar, market_instrument")
            total_rows = 0
            parse_s = load_s = parse_cpu = 0.0
            for path in files:
                c0, t0 = time.process_time(), time.perf_counter()
                frame = importers.read_daily_file(path)
                c1, t1 = time.process_time(), time.perf_counter()
                services.daily_bars_load(frame)
                t2 = time.perf_counter()
                total_rows += len(frame)
                parse_s += t1 - t0
                parse_cpu += c1 - c0
                load_s += t2 - t1
            if best is None or parse_s + load_s < best[0] + best[1]:
                best = (parse_s, load_s, parse_cpu)
        parse_s, load_s, parse_cpu = best
        print(f"files: {len(files)}  rows: {total_rows:,}  (best of 3 loads into empty tables)")
        print(f"parse + validate: {parse_s:.2f}s wall, {parse_cpu:.2f}s CPU")
        print(f"database load (COPY + insert + commit): {total_rows / load_s:,.0f} rows/s")
        print(
            f"end to end (parse + validate + load):   {total_rows / (parse_s + load_s):,.0f} rows/s"
        )
        # What a trader runs: the command parses file N+1 while file N is written.
        command_best = float("inf")
        for _ in range(3):
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE market_dailybar, market_minutebar, market_instrument")
            t0 = time.perf_counter()
            call_command("import_daily_bars", *map(str, files), verbosity=0, stdout=io.StringIO())
            command_best = min(command_best, time.perf_counter() - t0)
        print(f"import_daily_bars command, end to end: {total_rows / command_best:,.0f} rows/s")
        t0 = time.perf_counter()
        for path in files:
            services.daily_bars_import_file(path)
        t1 = time.perf_counter()
        print(f"re-import (no changes), end to end:     {total_rows / (t1 - t0):,.0f} rows/s")


if __name__ == "__main__":
    main()
