"""The MA crossover of `_common.py` in backtrader (its own SMA indicator, the default broker: a market
order fills at the next bar's open, no slippage, no commission). Timed from `Strategy.start` (after
backtrader's preload of the feed) to `Strategy.stop`.

Run by the peer venv: python ma_backtrader.py BARS.csv FAST SLOW QTY RUNS
"""

from __future__ import annotations

import time
from typing import Any

import backtrader as bt
import pandas as pd
from _common import Row, args, read_rows, report


def run_once(rows: list[Row], fast: int, slow: int, qty: int) -> tuple[float, list[Any]]:
    frame = pd.DataFrame(rows, columns=["end", "open", "high", "low", "close", "volume"])
    frame.index = pd.to_datetime(frame.pop("end"), unit="ns")
    fills: list[Any] = []
    clock: dict[str, float] = {}

    class MaCross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.fast = bt.ind.SMA(self.data.close, period=fast)
            self.slow = bt.ind.SMA(self.data.close, period=slow)
            self.above: bool | None = None

        def start(self) -> None:
            clock["start"] = time.perf_counter()

        def stop(self) -> None:
            clock["stop"] = time.perf_counter()

        def next(self) -> None:  # called once both averages are known (backtrader's minperiod)
            above = self.fast[0] > self.slow[0]
            before, self.above = self.above, above
            if before is None or above == before:
                return
            held = self.position.size
            if above and not held:
                self.buy(size=qty)
            elif not above and held:
                self.sell(size=held)

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                ex = order.executed
                end = pd.Timestamp(bt.num2date(ex.dt)).value
                side = 1 if order.isbuy() else -1
                fills.append([end, side, round(ex.price), abs(int(ex.size))])

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(MaCross)
    cerebro.broker.setcash(100_000_000)
    cerebro.run()
    return clock["stop"] - clock["start"], fills


def main() -> None:
    path, fast, slow, qty, runs = args()
    rows = read_rows(path)
    seconds, total, first = [], [], None
    for _ in range(runs):
        began = time.perf_counter()
        elapsed, fills = run_once(rows, fast, slow, qty)
        total.append(time.perf_counter() - began)
        seconds.append(elapsed)
        first = fills if first is None else first
    report("backtrader", bt.__version__, len(rows), seconds, total, first or [])


if __name__ == "__main__":
    main()
