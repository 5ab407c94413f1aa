"""Persistence of the simulator: the engine's state as a JSON-safe snapshot and back.

The market itself is not stored: it is deterministic for the seed, so a restore replays it to
the snapshot's time; what is stored is what cannot be replayed — the recorded daily bars, the
paper accounts, the day's orders and fills, and the order/fill counters.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .accounts import Account, Order
from .dto import Fill, OrderType, Side

if TYPE_CHECKING:
    from .engine import Engine
    from .exchange import ExchangeConfig

SNAPSHOT_VERSION = 1


def config_json(config: Any) -> dict[str, Any]:
    """The serialisable part of an ExchangeConfig (the clock and `extra` are not)."""

    def plain(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, tuple):
            return list(v)
        return v

    keys = (
        "seed", "pricing", "universe", "codes", "daily_path", "minute_path", "start_cash",
        "commission_rate", "participation", "market_slippage_ticks", "conditions_path",
        "use_krx_calendar",
    )  # fmt: skip
    return {k: plain(getattr(config, k, None)) for k in keys}


def _fill_row(f: Fill) -> list[Any]:
    return [
        f.fill_no, f.order_no, f.orig_order_no, f.code, f.side.value, f.order_type.value,
        f.order_qty, f.order_price, f.qty, f.price, f.time.isoformat(), f.commission, f.tax,
        f.remaining_qty,
    ]  # fmt: skip


def snapshot(eng: Engine) -> dict[str, Any]:
    hist, ledger = eng.history, eng.ledger
    return {
        "version": SNAPSHOT_VERSION,
        "config": config_json(eng.config),
        "seed": eng.seed,
        "pricing": eng.config.pricing,
        "now": eng.now.isoformat(),
        "day": eng.day.isoformat(),
        "anchor_day": hist.anchor_day.isoformat(),
        "anchor_base": dict(hist.anchor_base),
        "bases": {c: st.base for c, st in eng.stocks.items()},
        "recorded": {
            code: [
                [
                    b.date.isoformat(),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume,
                    b.value,
                    b.prev_close,
                ]
                for b in sorted(bars.values(), key=lambda b: b.date)
            ]
            for code, bars in hist.recorded.items()
        },
        "accounts": {n: a.to_json() for n, a in ledger.accounts.items()},
        "orders": {a: [o.to_json() for o in os.values()] for a, os in ledger.order_index.items()},
        "fills": {a: [_fill_row(f) for f in fs] for a, fs in ledger.fill_log.items()},
        "order_counters": dict(ledger.order_counters),
        "fill_counter": ledger.fill_counter,
    }


def check_snapshot(state: dict[str, Any], config: ExchangeConfig) -> None:
    if state.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported snapshot version {state.get('version')!r}")
    if int(state["seed"]) != int(config.seed) or state["pricing"] != config.pricing:
        raise ValueError("snapshot seed/pricing differ from the config")


def restore_market(eng: Engine, state: dict[str, Any]) -> tuple[dt.date, dict[str, int]]:
    """Put the history back before the market is replayed; returns (day, base prices)."""
    hist = eng.history
    hist.anchor_day = dt.date.fromisoformat(state["anchor_day"])
    hist.anchor_base = dict(state["anchor_base"])
    for code, rows in state.get("recorded", {}).items():
        hist.recorded[code] = {}
        for r in rows:
            bar = hist.bar_from_json(code, r)
            hist.recorded[code][bar.date] = bar
    return dt.date.fromisoformat(state["day"]), dict(state["bases"])


def restore_accounts(eng: Engine, state: dict[str, Any], config: ExchangeConfig) -> None:
    """Put the accounts, orders and fills back once the market was replayed to `now`."""
    ledger = eng.ledger
    ledger.accounts = {n: Account.from_json(a) for n, a in state["accounts"].items()}
    ledger.order_index = {}
    eng.book.clear()
    max_seq = 0
    for acct, rows in state["orders"].items():
        ledger.order_index[acct] = {}
        for row in rows:
            o = Order.from_json(row)
            ledger.order_index[acct][o.order_no] = o
            max_seq = max(max_seq, o.seq)
            if o.is_open:
                eng.book.working.setdefault(o.code, []).append(o)
    ledger.order_seq = itertools.count(max_seq + 1)
    ledger.fill_log = {}
    for acct, rows in state["fills"].items():
        fl = ledger.fill_log.setdefault(acct, [])
        for r in rows:
            inst = eng.history.instruments[r[3]]
            fl.append(
                Fill(acct, r[0], r[1], r[2], r[3], inst.name, Side(r[4]), OrderType(r[5]), r[6],
                     r[7], r[8], r[9], dt.datetime.fromisoformat(r[10]), r[11], r[12], r[13])
            )  # fmt: skip
    for acct in ledger.accounts:
        ledger.order_index.setdefault(acct, {})
        ledger.fill_log.setdefault(acct, [])
    for account in config.accounts:
        ledger.open_account(account, None)  # accounts added to the config since the snapshot
    ledger.order_counters = dict(state["order_counters"])
    ledger.fill_counter = int(state["fill_counter"])
