"""The backtest broker fed with the simulator's own prints fills resting orders exactly as the
simulator does: same quantities, prices and times (the simulator's immediate fills against its
synthesised book have no counterpart in a backtest and are not compared)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from apps.broker.backtest import BacktestBroker
from apps.broker.contract import Instrument, OrderType, Side
from apps.broker.simulator.dto import Tick
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from krx import KST, Market

CODE = "005930"
DAY = dt.date(2018, 1, 16)
ACCOUNT = "5000000010"


def at(hhmm: str) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(int(hhmm[:2]), int(hhmm[2:])), tzinfo=KST)


def minute_file(tmp_path: Path) -> Path:
    lines = ["code,date,time_hhmm,open,high,low,close,volume"]
    price = 2_480_000
    t = dt.datetime(2018, 1, 16, 9, 1)
    for m in range(380):
        step = (-1, -1, 2, 0, -2, 1)[m % 6] * 1_000
        o, c = price, price + step
        lines.append(
            f"{CODE},{DAY},{t:%H%M},{o},{max(o, c) + 1000},{min(o, c) - 1000},{c},{40 + m % 7 * 30}"
        )
        price, t = c, t + dt.timedelta(minutes=1)
    lines.append(f"{CODE},{DAY},1530,{price},{price},{price},{price},900")
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_prints_fill_resting_orders_like_the_simulator(tmp_path: Path) -> None:
    ex = Exchange(
        ExchangeConfig(
            pricing="replay", minute_path=minute_file(tmp_path), start=at("0930"),
            use_krx_calendar=False, accounts=(ACCOUNT,),
        )
    )  # fmt: skip
    q = ex.quote(CODE)
    b = BacktestBroker(
        [Instrument(CODE, "삼성전자", Market.KOSPI, "KOSPI", 1, None, q.base_price, "", "")],
        at("0930"),
        participation=Decimal("0.5"),  # the simulator's default
        slippage_ticks=1,
    )
    b.begin_day(DAY, {CODE: q.base_price})
    # Resting orders only (below / above the market), placed at the same moment in both.
    for side, qty, price in ((Side.BUY, 12, q.price - 3_000), (Side.BUY, 6, q.price - 5_000)):
        ex.place_order(ACCOUNT, side.value, CODE, qty, price)
        b.place_order(side, CODE, qty, OrderType.LIMIT, price)

    def replay_to(hhmm: str) -> None:
        for e in ex.advance(at(hhmm)):
            if isinstance(e, Tick) and e.code == CODE:
                b.on_print(CODE, e.time, e.price, e.volume, auction=e.auction)

    replay_to("1200")
    assert sum(f.qty for f in b.fill_log) == 18
    # A resting sell above the market, partly filled in the session, the rest at the close.
    sell_at = ex.quote(CODE).price + 1_000
    ex.place_order(ACCOUNT, "sell", CODE, 18, sell_at)
    b.place_order(Side.SELL, CODE, 18, OrderType.LIMIT, sell_at)
    replay_to("1531")
    sim_fills = [(f.side.value, f.qty, f.price, f.time) for f in ex.fills(ACCOUNT)]
    bt_fills = [(f.side.value, f.qty, f.price, f.time) for f in b.fill_log]
    assert bt_fills and sorted(bt_fills, key=str) == sorted(sim_fills, key=str)
    assert sum(f.tax for f in b.fill_log) == sum(f.tax for f in ex.fills(ACCOUNT)) > 0
    assert b.balance().cash == ex.cash(ACCOUNT).deposit
    assert b.realized_pnl() == ex.summary(ACCOUNT).realized_pnl
