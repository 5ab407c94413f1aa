"""The peers' side of `bench/backtest_speed.py`: the same MA-crossover over the same bars in backtrader or
NautilusTrader. Run by the throwaway venv's Python (never ours): `python _peers_ma.py backtrader|nautilus
BARS.csv FAST SLOW`; prints one JSON line {"engine", "version", "bars", "seconds", "trades"}.

The bars file: `end_ns,open,high,low,close,volume` (prices in KRW). Both peers buy 70 shares on a cross
up when flat and close on a cross down, with the peer's default fill model; the clock (CPU time of the process) covers the run only
(building the feed and the engine is outside it, as ours excludes loading).
"""

from __future__ import annotations

import json
import sys
import time


def _rows(path: str) -> list[tuple[int, int, int, int, int, int]]:
    with open(path) as f:
        return [tuple(int(x) for x in line.split(",")) for line in f]  # type: ignore[misc]


def run_backtrader(path: str, fast: int, slow: int) -> dict[str, object]:
    import backtrader as bt
    import pandas as pd

    rows = _rows(path)
    frame = pd.DataFrame(rows, columns=["end", "open", "high", "low", "close", "volume"])
    frame.index = pd.to_datetime(frame.pop("end"), unit="ns")
    trades = {"n": 0}

    class MaCross(bt.Strategy):
        def __init__(self) -> None:
            self.cross = bt.ind.CrossOver(bt.ind.SMA(period=fast), bt.ind.SMA(period=slow))

        def next(self) -> None:
            if self.cross[0] > 0 and not self.position:
                self.buy(size=70)
            elif self.cross[0] < 0 and self.position:
                self.close()
                trades["n"] += 1

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(MaCross)
    cerebro.broker.setcash(100_000_000)
    started = time.process_time()
    cerebro.run()
    seconds = time.process_time() - started
    return {"engine": "backtrader", "version": bt.__version__, "bars": len(rows),
            "seconds": seconds, "trades": trades["n"]}  # fmt: skip


def run_nautilus(path: str, fast: int, slow: int) -> dict[str, object]:
    from decimal import Decimal

    import nautilus_trader
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.indicators import SimpleMovingAverage
    from nautilus_trader.model.currencies import KRW
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.trading.strategy import Strategy

    venue = Venue("XKRX")
    instrument = Equity(
        instrument_id=InstrumentId(Symbol("005930"), venue),
        raw_symbol=Symbol("005930"),
        currency=KRW,
        price_precision=0,
        price_increment=Price.from_int(1),
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
    )
    bar_type = BarType.from_str("005930.XKRX-1-MINUTE-LAST-EXTERNAL")
    rows = _rows(path)
    bars = [
        Bar(bar_type, Price.from_int(o), Price.from_int(h), Price.from_int(lo), Price.from_int(c),
            Quantity.from_int(v), ts, ts)
        for ts, o, h, lo, c, v in rows
    ]  # fmt: skip
    trades = {"n": 0}

    class Config(StrategyConfig, frozen=True):
        fast: int = 5
        slow: int = 20

    class MaCross(Strategy):
        def __init__(self, config: Config) -> None:
            super().__init__(config)
            self.fast_ma = SimpleMovingAverage(config.fast)
            self.slow_ma = SimpleMovingAverage(config.slow)
            self.above: bool | None = None

        def on_start(self) -> None:
            self.register_indicator_for_bars(bar_type, self.fast_ma)
            self.register_indicator_for_bars(bar_type, self.slow_ma)
            self.subscribe_bars(bar_type)

        def on_bar(self, bar: Bar) -> None:
            if not self.slow_ma.initialized:
                return
            above = self.fast_ma.value > self.slow_ma.value
            before, self.above = self.above, above
            if before is None or above == before:
                return
            flat = self.portfolio.is_flat(instrument.id)
            if above and flat:
                order = self.order_factory.market(
                    instrument.id, OrderSide.BUY, Quantity.from_int(70)
                )
                self.submit_order(order)
            elif not above and not flat:
                self.close_all_positions(instrument.id)
                trades["n"] += 1

    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        venue=venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=KRW,
        starting_balances=[Money(100_000_000, KRW)],
    )
    engine.add_instrument(instrument)
    engine.add_data(bars)
    engine.add_strategy(MaCross(Config(fast=fast, slow=slow)))
    _ = Decimal
    started = time.process_time()
    engine.run()
    seconds = time.process_time() - started
    engine.dispose()
    return {"engine": "nautilus_trader", "version": nautilus_trader.__version__,
            "bars": len(rows), "seconds": seconds, "trades": trades["n"]}  # fmt: skip


if __name__ == "__main__":
    which, path, fast, slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    fn = run_backtrader if which == "backtrader" else run_nautilus
    print(json.dumps(fn(path, fast, slow)))
