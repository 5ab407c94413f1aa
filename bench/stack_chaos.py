"""Time from SIGKILL to all-green health, per process of the running stack (goal: 10 s or less).

    .venv/bin/python bench/stack_chaos.py [--runs 1]

Starts `manage.py runstack` on Postgres + Redis through apps/core/stackcheck.py (`--chaos`), waits for green,
then kills each supervised process in turn with SIGKILL and measures how long health took to show it red
and to be all green again with the process restarted. The simulator plays a fixed trading day at 30x, so
conditions move meanwhile; prints the accounting of condition events and notifications (lost, duplicated:
apps/core/chaos_accounting.py) and the stack's memory (PSS).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB = f"stockagent_bench_chaos_{os.environ.get('TEST_DATABASE_NAME') or 'default'}"


def once() -> dict:
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", DB], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8"),
        SECRET_KEY="bench-secret-key-0123456789",
        FIELD_ENCRYPTION_KEY="s0mG1E6x2Jb1k5V9n2YlH4c0dQ3wS7uPzA8rT6mF_oI=",
    )
    out = subprocess.run(
        [sys.executable, "-m", "apps.core.stackcheck", "--timeout", "180", "--chaos", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for run in range(args.runs):
        result = once()
        print(f"run {run + 1}: stack green after {result['green_after_seconds']} s")
        print(f"  {'process':16s} {'red after':>10s} {'green after':>12s}  others restarted")
        for r in result["chaos"]:
            red = "-" if r.get("red_after_seconds") is None else f"{r['red_after_seconds']:.2f} s"
            green = (
                "never"
                if r.get("green_after_seconds") is None
                else f"{r['green_after_seconds']:.2f} s"
            )
            print(
                f"  {r['process']:16s} {red:>10s} {green:>12s}  {r.get('others_restarted') or '-'}"
            )
            if r.get("red_until"):
                print(f"  {'':16s} last seen red (s after the kill): {r['red_until']}")
        accounting = result.get("accounting") or {}
        for part in ("events", "notifications"):
            if part in accounting:
                print(f"  {part}: {json.dumps(accounting[part]['counts'])}")
                for problem in accounting[part]["problems"]:
                    print(f"    PROBLEM: {problem}")
        print("  memory (PSS MiB):", json.dumps(result["pss_mib"]))
        print(f"  orphans after stop: {len(result['leftover_processes'])}")


if __name__ == "__main__":
    main()
