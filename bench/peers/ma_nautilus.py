"""The MA crossover of `_common.py` in NautilusTrader (its own SimpleMovingAverage, bars as the only
data, a NETTING cash account, default fill model: a market order submitted in `on_bar` fills at once
against the market the bar left, i.e. at that bar's close). Timed from `on_start` to `on_stop` of the
strategy inside `engine.run()` (the bars were built and added before).

Run by the peer venv: python ma_nautilus.py BARS.csv FAST SLOW QTY RUNS
"""

from __future__ import annotations

import time
from typing import Any

import nautilus_trader
from _common import Row, args, read_rows, report
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model.currencies import KRW
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import Equity
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.trading.strategy import Strategy

VENUE = Venue("XKRX")
INSTRUMENT = Equity(
    instrument_id=InstrumentId(Symbol("005930"), VENUE),
    raw_symbol=Symbol("005930"),
    currency=KRW,
    price_precision=0,
    price_increment=Price.from_int(1),
    lot_size=Quantity.from_int(1),
    ts_event=0,
    ts_init=0,
)
BAR_TYPE = BarType.from_str("005930.XKRX-1-MINUTE-LAST-EXTERNAL")


class MaConfig(StrategyConfig, frozen=True):
    fast: int = 5
    slow: int = 20
    qty: int = 10


class MaCross(Strategy):  # type: ignore[misc]
    def __init__(self, config: MaConfig) -> None:
        super().__init__(config)
        self.fast_ma = SimpleMovingAverage(config.fast)
        self.slow_ma = SimpleMovingAverage(config.slow)
        self.qty = Quantity.from_int(config.qty)
        self.above: bool | None = None
        self.held = 0
        self.fills: list[Any] = []
        self.clock_s: dict[str, float] = {}

    def on_start(self) -> None:
        self.register_indicator_for_bars(BAR_TYPE, self.fast_ma)
        self.register_indicator_for_bars(BAR_TYPE, self.slow_ma)
        self.subscribe_bars(BAR_TYPE)
        self.clock_s["start"] = time.perf_counter()

    def on_stop(self) -> None:
        self.clock_s["stop"] = time.perf_counter()

    def on_bar(self, bar: Bar) -> None:
        if not self.slow_ma.initialized:
            return
        above = self.fast_ma.value > self.slow_ma.value
        before, self.above = self.above, above
        if before is None or above == before:
            return
        if above and not self.held:
            self.submit_order(self.order_factory.market(INSTRUMENT.id, OrderSide.BUY, self.qty))
        elif not above and self.held:
            sell = self.order_factory.market(
                INSTRUMENT.id, OrderSide.SELL, Quantity.from_int(self.held)
            )
            self.submit_order(sell)

    def on_order_filled(self, event: OrderFilled) -> None:
        qty = int(event.last_qty)
        side = 1 if event.order_side == OrderSide.BUY else -1
        self.held += side * qty
        self.fills.append([event.ts_event, side, int(event.last_px), qty])


def run_once(rows: list[Row], fast: int, slow: int, qty: int) -> tuple[float, list[Any]]:
    bars = [
        Bar(BAR_TYPE, Price.from_int(o), Price.from_int(h), Price.from_int(lo), Price.from_int(c),
            Quantity.from_int(v), ts, ts)
        for ts, o, h, lo, c, v in rows
    ]  # fmt: skip
    engine = BacktestEngine(
        BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR", bypass_logging=True))
    )
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=KRW,
        starting_balances=[Money(100_000_000, KRW)],
    )
    engine.add_instrument(INSTRUMENT)
    engine.add_data(bars)
    strategy = MaCross(MaConfig(fast=fast, slow=slow, qty=qty))
    engine.add_strategy(strategy)
    engine.run()
    engine.dispose()
    return strategy.clock_s["stop"] - strategy.clock_s["start"], strategy.fills


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
    report("nautilus_trader", nautilus_trader.__version__, len(rows), seconds, total, first or [])


if __name__ == "__main__":
    main()
