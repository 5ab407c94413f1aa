"""What the peer scripts share (run by the throwaway venv's Python, never ours; stdlib only).

The bars file (written once by `bench/backtest_peers.py`): one bar a line,
`end_ns,open,high,low,close,volume` — the bar's END as UTC epoch nanoseconds, prices in KRW on the KRX
tick grid. The rule every engine runs (ours included): simple moving averages of the closes over the
series as one (they do not restart each day); once the slow one is known, `above = fast > slow` is judged
at each closed bar; a change from not-above to above is a cross up (buy `qty` shares at market when flat),
from above to not-above a cross down (sell everything held at market). The first judged bar only sets
`above`. Each script prints one JSON line: engine, version, bars, the seconds of each run (the strategy
run only: from the strategy's start to its stop, the data already loaded), the seconds of each run
from the parsed rows on (the engine's own data objects built, loaded, run: for information), and the fills of the first
run as [bar end ns at the fill, +1 buy / -1 sell, price, quantity].
"""

from __future__ import annotations

import json
import sys
from typing import Any

Row = tuple[int, int, int, int, int, int]


def read_rows(path: str) -> list[Row]:
    with open(path) as f:
        return [tuple(int(x) for x in line.split(",")) for line in f]  # type: ignore[misc]


def args() -> tuple[str, int, int, int, int]:
    """(bars file, fast, slow, qty, runs) from argv."""
    path, fast, slow, qty, runs = sys.argv[1:6]
    return path, int(fast), int(slow), int(qty), int(runs)


def report(
    engine: str, version: str, bars: int, seconds: list[float], total: list[float], fills: list[Any]
) -> None:
    print(json.dumps({"engine": engine, "version": version, "bars": bars, "seconds": seconds,
                      "total": total, "fills": fills}))  # fmt: skip
