"""Paper/backtest parity probe: one replayed day through the backtest runner (bar mode and tape mode) and
through the simulator's own tape, side by side (no network, no database).

- backtest: `apps.backtests.runner.run` over the file's minute bars of the day (the bars a backtest reads
  after `market_import`), the scanner's ranking rebuilt from those bars, a news score assumed for every code;
  `fill_model="bars"` (decisions at bar closes, fills on the next bar) and `"tape"` (apps/backtests/tape.py);
- paper (in process): the simulator replaying the same file (`pricing="replay"`), advanced one scheduled
  event at a time; its 0B ticks go to the same strategy engine as `TickEvent`s (bars closed by the next
  tick or the clock, as the realtime handler does), the value ranking (ka10032) is read at each scan slot,
  signals are sized by the live `plan_order` and sent to the exchange as marketable limits at the moment
  of the tick that made them (zero latency: the best case of the live path); the live risk exits are
  judged on every tick, as `apps.risk.realtime_handlers` does.

Prints each path's fills (time, side, price, quantity); `--all-days` counts the days on which each backtest
mode makes exactly paper's fills. It asserts nothing (the parity test over the sockets is
apps/backtests/tests/test_parity.py); README, "Backtests", parity.

Run: .venv/bin/python bench/parity_probe.py [--file PATH] [--day 2018-01-31 | --all-days]
     [--strategy opening_breakout] [--news-score 80] [--participation 0.1] [--set param=value ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockagent.settings_test")

DEFAULT_DIR = ROOT.parent / "shared/data/krx/minute"
ACCOUNT = "5000000010"
Trade = tuple[str, str, int, int]  # (HH:MM:SS KST, side, price, quantity)


def _default_file() -> Path:
    files = sorted(DEFAULT_DIR.glob("*.csv")) if DEFAULT_DIR.is_dir() else []
    if not files:
        raise SystemExit(f"no minute file under {DEFAULT_DIR}; pass --file")
    return files[0]


def _hms(at: dt.datetime) -> str:
    from krx import KST

    return at.astimezone(KST).strftime("%H:%M:%S")


def backtest_trades(path: Path, day: dt.date, spec: object, mode: str = "bars") -> list[Trade]:
    from apps.backtests.runner import DayInput, Instrument, run
    from apps.broker.simulator.universe import load_minutes
    from apps.strategy.engine.events import BarEvent
    from krx import KST

    rows = load_minutes(path)
    codes = sorted({c for c, d in rows if d == day})
    bars, bases, prev_volume = [], {}, {}
    for code in codes:
        before = sorted(d for c, d in rows if c == code and d < day)
        if before:
            bases[code] = rows[(code, before[-1])][-1].close
            prev_volume[code] = sum(r.volume for r in rows[(code, before[-1])])
        for r in rows[(code, day)]:
            end = dt.datetime.combine(day, dt.time(int(r.hhmm[:2]), int(r.hhmm[2:])), tzinfo=KST)
            bars.append(BarEvent(code, end, r.open, r.high, r.low, r.close, r.volume))
        bases.setdefault(code, rows[(code, day)][0].open)
    from dataclasses import replace

    result = run(
        replace(spec, fill_model=mode),  # type: ignore[type-var]
        [Instrument(c, c, "KOSPI") for c in codes],
        [DayInput(day, bars, bases, prev_volume)],
    )
    return sorted((_hms(f.executed_at), f.side, f.price, f.quantity) for f in result.books.fills)


def paper_trades(path: Path, day: dt.date, spec: object) -> list[Trade]:
    from apps.backtests.scan import scan_slots
    from apps.broker.simulator.dto import OrderEvent, OrderStatus, OrderType, Side, Tick
    from apps.broker.simulator.exchange import Exchange, ExchangeConfig
    from apps.risk.exits import HeldPosition, evaluate, exit_limit_price
    from apps.strategy.engine import build_engine
    from apps.strategy.engine.base import StrategySettings
    from apps.strategy.engine.events import Candidate, ClockEvent, ScanEvent, TickEvent
    from apps.strategy.execution import Prepared
    from apps.strategy.sizing import exit_slippage, plan_order
    from krx import KST, calendar

    ex = Exchange(
        ExchangeConfig(
            seed=spec.tape_seed, pricing="replay", minute_path=path, use_krx_calendar=False,  # type: ignore[attr-defined]
            accounts=(ACCOUNT,),
            start=dt.datetime.combine(day, dt.time(8, 30), tzinfo=KST),
            participation=spec.participation,  # type: ignore[attr-defined]
            market_slippage_ticks=spec.slippage_ticks,  # type: ignore[attr-defined]
        )
    )  # fmt: skip
    settings = StrategySettings(spec.strategy, 0, True, spec.budget_krw, spec.params)  # type: ignore[attr-defined]
    engine = build_engine({spec.strategy: settings})  # type: ignore[attr-defined]
    close = calendar.session(day).close
    slots = sorted(scan_slots(day, spec.scan_window))  # type: ignore[attr-defined]
    trades: list[Trade] = []
    held: dict[str, list[int]] = {}  # code -> [qty, cost, high]
    entry_time: dict[str, dt.datetime] = {}
    exiting: set[str] = set()
    news = spec.assume_news_score  # type: ignore[attr-defined]

    def send(code: str, side: str, qty: int, price: int) -> None:
        ex.place_order(ACCOUNT, Side(side), code, qty, price, OrderType.LIMIT)

    def on_signal(signal: object) -> None:
        code = signal.code  # type: ignore[attr-defined]
        inst = ex.instrument(code)
        lower, upper = ex.quote(code).lower_limit, ex.quote(code).upper_limit
        pos = held.get(code, [0, 0, 0])
        used = sum(v[1] for v in held.values())
        prepared = Prepared(0, "new", ACCOUNT, inst.market.value, inst.name, used, pos[0])
        plan = plan_order(signal, prepared, settings, signal.price or ex.quote(code).price,  # type: ignore[attr-defined]
                          (lower, upper))  # fmt: skip
        if plan.refusal is None and plan.quantity > 0:
            if signal.side == "sell":  # type: ignore[attr-defined]
                exiting.add(code)
            send(code, signal.side, plan.quantity, plan.price)  # type: ignore[attr-defined]

    def handle(events: list) -> None:
        for e in events:
            if isinstance(e, OrderEvent) and e.status is OrderStatus.FILLED and e.fill_qty:
                side = "buy" if e.side is Side.BUY else "sell"
                trades.append((_hms(e.time), side, e.fill_price, e.fill_qty))
                pos = held.setdefault(e.code, [0, 0, 0])
                if side == "buy":
                    pos[0] += e.fill_qty
                    pos[1] += e.fill_qty * e.fill_price
                    entry_time.setdefault(e.code, e.time)
                else:
                    pos[1] -= pos[1] * e.fill_qty // pos[0]
                    pos[0] -= e.fill_qty
                    if pos[0] == 0:
                        held.pop(e.code)
            elif isinstance(e, Tick):
                for signal in engine.on_event(
                    TickEvent(e.code, e.time, e.price, e.volume, e.cum_volume, e.cum_value)
                ):
                    on_signal(signal)
                pos = held.get(e.code)
                if pos and e.code not in exiting and not e.auction:
                    pos[2] = max(pos[2], e.price)
                    decision = evaluate(
                        HeldPosition(e.code, pos[0], Decimal(pos[1]) / pos[0], pos[2],
                                     entry_time[e.code]),
                        e.price, e.time, close, spec.exit_policy,  # type: ignore[attr-defined]
                    )  # fmt: skip
                    if decision is not None:
                        q = ex.quote(e.code)
                        price = exit_limit_price(
                            decision.price or e.price, exit_slippage(), q.lower_limit,
                            ex.instrument(e.code).market, day,
                        )  # fmt: skip
                        exiting.add(e.code)
                        send(e.code, "sell", pos[0], price)

    end = dt.datetime.combine(day, dt.time(15, 31), tzinfo=KST)
    while True:
        at = ex.next_event_at()
        if at is None or at > end:
            break
        while slots and slots[0] <= at:
            slot = slots.pop(0)
            handle(ex.advance(slot))
            rows = ex.rankings("value", limit=spec.scan_rows)  # type: ignore[attr-defined]
            cands = tuple(
                Candidate(r.code, r.name, i + 1, r.value, None, r.change_rate_pct, r.price, news)
                for i, r in enumerate(rows)
                if r.volume > 0
            )
            for signal in engine.on_event(ScanEvent(slot, cands)):
                on_signal(signal)
        handle(ex.advance(at))
        for signal in engine.on_event(ClockEvent(at)):
            on_signal(signal)
        for code, pos in list(held.items()):  # the time exit without ticks (`time_check`)
            if code in exiting:
                continue
            held_now = HeldPosition(
                code, pos[0], Decimal(pos[1]) / pos[0], pos[2], entry_time[code]
            )
            decision = evaluate(held_now, None, at, close, spec.exit_policy)  # type: ignore[attr-defined]
            if decision is not None:
                q = ex.quote(code)
                price = exit_limit_price(q.price, exit_slippage(), q.lower_limit,
                                         ex.instrument(code).market, day)  # fmt: skip
                exiting.add(code)
                send(code, "sell", pos[0], price)
    handle(ex.advance(end + dt.timedelta(minutes=5)))
    return sorted(trades)


def summary(path: Path, spec: object) -> None:
    from apps.broker.simulator.universe import load_minutes

    days = sorted({d for _, d in load_minutes(path)})[1:]  # the first day only gives a base
    fills = same_bars = same_tape = 0
    for day in days:
        paper = paper_trades(path, day, spec)
        same_bars += backtest_trades(path, day, spec, "bars") == paper
        same_tape += backtest_trades(path, day, spec, "tape") == paper
        fills += len(paper)
    print(f"file {path.name}: {len(days)} days, {fills} paper fills")
    print(f"days whose fills equal paper's: bar mode {same_bars}, tape mode {same_tape}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=None)
    ap.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2018, 1, 31))
    ap.add_argument("--all-days", action="store_true", help="every day of the file: a summary")
    ap.add_argument("--strategy", default="opening_breakout")
    ap.add_argument("--news-score", type=int, default=80)
    ap.add_argument("--participation", default="0.1")
    ap.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE")
    args = ap.parse_args()
    import django

    django.setup()
    from apps.backtests.runner import RunSpec
    from apps.strategy.engine.runner import BUILTINS

    raw = dict(s.split("=", 1) for s in args.set)
    params = BUILTINS[args.strategy].schema.load(raw)
    spec = RunSpec(
        strategy=args.strategy, params=params, participation=Decimal(args.participation),
        assume_news_score=args.news_score,
    )  # fmt: skip
    path = args.file or _default_file()
    if args.all_days:
        summary(path, spec)
        return
    columns = {
        "backtest, bar mode": backtest_trades(path, args.day, spec, "bars"),
        "backtest, tape mode": backtest_trades(path, args.day, spec, "tape"),
        "paper (simulator, zero latency)": paper_trades(path, args.day, spec),
    }
    print(f"file {path.name} day {args.day} strategy {args.strategy} params {raw or 'defaults'}")
    print("  ".join(f"{name:<36}" for name in columns))
    lists = list(columns.values())
    for i in range(max(len(x) for x in lists)):
        cells = []
        for trades in lists:
            t = trades[i] if i < len(trades) else None
            cells.append(f"{t[0]} {t[1]:<4} {t[2]:>10,} x{t[3]:<6}" if t else "")
        print("  ".join(f"{c:<36}" for c in cells))
    paper = lists[2]
    print(f"bar mode == paper: {lists[0] == paper}; tape mode == paper: {lists[1] == paper}")


if __name__ == "__main__":
    main()
