"""The fault run at full size: 1,000 orders through the simulator's fault injection (#13).

Drives `apps.trades.tests.sim_support.fault_run` — market and resting limit orders over four codes, with replies
lost after the order was accepted (connection closed / held until the client's 0.5 s limit), 5xx and 429
on order calls, 5xx on the reconciliation reads, dropped WebSocket sessions and a sender killed between
the broker call and its record — then prints the checks: duplicate orders, broker orders nobody
tracks, lost fills (broker filled quantity vs ours, per broker order), unresolved orders, and whether
local positions equal the simulator's holdings.

    .venv/bin/python bench/orders_fault_run.py [--orders 1000] [--fault-every 3] [--seed 7]

Uses its own database (``DATABASE_URL``, default ``bench_trades``, created if missing; its trades tables
are emptied) and Redis (``REDIS_URL``, default db 9).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from order_latency import setup_django  # the shared database setup of the trades benches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--fault-every", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    setup_django()
    logging.disable(logging.WARNING)
    from apps.trades.tests.sim_support import fault_run, trading_sim

    with trading_sim(
        dt.date(2025, 11, 3), participation="0.5", client={"order_call_timeout": 0.5}
    ) as (sim, broker, feed):
        result = fault_run(
            sim, broker, feed, args.orders, seed=args.seed, fault_every=args.fault_every
        )
    print(result.summary())
    print(f"duplicate orders:        {result.duplicate_orders}")
    print(f"untracked broker orders: {result.untracked_broker_orders}")
    print(f"lost fills (shares):     {result.lost_fills}")
    print(f"unresolved orders:       {result.unresolved}")
    print(f"positions match:         {result.positions_match}")
    print(f"local:  {result.local_positions}")
    print(f"broker: {result.broker_positions}")
    if result.fill_mismatches:
        print("mismatches:", result.fill_mismatches[:20])


if __name__ == "__main__":
    main()
