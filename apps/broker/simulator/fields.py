"""Condition fields of the simulator: the per-stock values the condition formulas read
(conditions.py), computed from the tape of the current day."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from krx import Market

from .tape import StockDay, strength


def _vwap(st: StockDay) -> float:
    return st.value / st.volume if st.volume else st.last


def _volume_ratio(st: StockDay, ctx: dict[str, Any]) -> float:
    same = ctx["prev_same_time"](st)
    return st.volume * 100 / same if same else 0.0


def _price_vs_vwap(st: StockDay) -> float:
    vwap = _vwap(st)
    return (st.last - vwap) * 100 / vwap if vwap else 0.0


# (stock, context) -> value.
FIELD_FUNCS: dict[str, Any] = {
    "price": lambda st, ctx: st.last,
    "base_price": lambda st, ctx: st.base,
    "open": lambda st, ctx: st.open,
    "high": lambda st, ctx: st.high,
    "low": lambda st, ctx: st.low,
    "volume": lambda st, ctx: st.volume,
    "prev_volume": lambda st, ctx: st.prev_volume,
    "change": lambda st, ctx: st.last - st.base,
    "change_rate": lambda st, ctx: (st.last - st.base) * 100 / st.base,
    "traded_value": lambda st, ctx: st.value,
    "traded_value_eok": lambda st, ctx: st.value / 1e8,
    "value_rank": lambda st, ctx: ctx["ranks"][st.inst.code],
    "volume_ratio_prev_day": _volume_ratio,
    "vwap": lambda st, ctx: _vwap(st),
    "price_vs_vwap": lambda st, ctx: _price_vs_vwap(st),
    "new_day_high": lambda st, ctx: bool(st.high and st.last >= st.high and st.high > st.open),
    "gap": lambda st, ctx: (st.open - st.base) * 100 / st.base if st.open else 0.0,
    "range_pct": lambda st, ctx: (st.high - st.low) * 100 / st.low if st.low else 0.0,
    "strength": lambda st, ctx: float(strength(st)),
    "minutes_since_open": lambda st, ctx: ctx["minutes"],
    "market_cap_eok": lambda st, ctx: st.last * st.inst.listed_shares / 1e8,
    "kospi": lambda st, ctx: int(st.inst.market is Market.KOSPI),
    "kosdaq": lambda st, ctx: int(st.inst.market is Market.KOSDAQ),
    "kospi200": lambda st, ctx: int(st.inst.kospi200),
}


def compute_fields(
    stocks: dict[str, StockDay],
    names: frozenset[str],
    minutes: int,
    prev_same_time: Callable[[StockDay], int],
) -> dict[str, dict[str, float]]:
    """Per-stock values of the fields `names` (`minutes`: minutes since the open)."""
    wanted = [(n, FIELD_FUNCS[n]) for n in sorted(names)]
    ctx: dict[str, Any] = {"minutes": minutes, "prev_same_time": prev_same_time}
    if any(n == "value_rank" for n, _ in wanted):
        ranked = sorted(stocks.values(), key=lambda s: (-s.value, s.inst.code))
        ctx["ranks"] = {s.inst.code: i + 1 for i, s in enumerate(ranked)}
    return {code: {n: fn(st, ctx) for n, fn in wanted} for code, st in stocks.items()}
