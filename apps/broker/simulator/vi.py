"""Volatility interruption (변동성완화장치) trigger test for the simulator.

Static VI: the next trade deviates >= 10 % from the static reference (the last single-price
match: the open, or the end of the previous VI). Dynamic VI: it deviates from the last trade by
>= 3 % (KOSPI200 constituents) / 6 % (others) in the continuous session (krx.vi_thresholds).
Either one stops continuous trading of the stock for krx.VI_DURATION (2 minutes), then a
single-price match resumes it. Integer arithmetic: this runs for every simulated trade.
"""

from __future__ import annotations

import functools

from krx import SessionPhase, vi_thresholds


@functools.cache
def _bps(kospi200: bool) -> tuple[int, int | None]:
    static, dynamic = vi_thresholds(SessionPhase.CONTINUOUS, kospi200=kospi200)
    return int(static * 10_000), int(dynamic * 10_000) if dynamic is not None else None


def vi_trigger(price: int, static_ref: int, last: int, *, kospi200: bool) -> str | None:
    """'static', 'dynamic' or 'both' when a continuous-session trade at `price` trips a VI."""
    static_bps, dynamic_bps = _bps(kospi200)
    hit_static = static_ref > 0 and abs(price - static_ref) * 10_000 >= static_ref * static_bps
    hit_dynamic = (
        dynamic_bps is not None and last > 0 and abs(price - last) * 10_000 >= last * dynamic_bps
    )
    if hit_static and hit_dynamic:
        return "both"
    if hit_static:
        return "static"
    if hit_dynamic:
        return "dynamic"
    return None
