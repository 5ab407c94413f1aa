"""Volatility interruption (변동성완화장치) trigger test for the simulator.

Static VI: the next trade deviates >= 10 % from the static reference (the last single-price
match: the open, or the end of the previous VI). Dynamic VI: it deviates from the last trade by
>= 3 % (KOSPI200 constituents) / 6 % (others) in the continuous session (krx.vi_thresholds).
Either one stops continuous trading of the stock for krx.VI_DURATION (2 minutes), then a
single-price match resumes it. Integer arithmetic: this runs for every simulated trade.
This module also owns a stock's VI state changes (`start_vi`, `end_vi`) and their 1h events.
"""

from __future__ import annotations

import datetime as dt
import functools

from krx import VI_DURATION, SessionPhase, vi_thresholds

from .dto import ViEvent
from .tape import StockDay, pct


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


def vi_event(
    st: StockDay,
    when: dt.datetime,
    active: bool,
    kind: str,
    price: int,
    release: dt.datetime,
) -> ViEvent:
    """The 1h event of a VI starting (active) or ending on `st`."""
    return ViEvent(
        code=st.inst.code,
        name=st.inst.name,
        market=st.inst.market,
        time=when,
        active=active,
        kind=kind,
        trigger_price=price,
        static_ref=st.static_ref,
        dynamic_ref=st.last,
        static_gap_pct=pct(price - st.static_ref, st.static_ref),
        dynamic_gap_pct=pct(price - st.last, st.last),
        release_time=release,
        count=st.vi_count,
        up=price >= st.last,
        cum_volume=st.volume,
        cum_value=st.value,
    )


def start_vi(
    st: StockDay,
    when: dt.datetime,
    price: int,
    vol: int,
    kind: str,
    closing_auction: dt.datetime,
) -> tuple[ViEvent, dt.datetime]:
    """Put `st` into a VI single-price period that ends after VI_DURATION (at the latest when the
    closing auction starts); the trade that tripped it joins the VI match. Returns the event
    and the release time the caller schedules."""
    release = min(when + VI_DURATION, closing_auction)
    st.vi_until = release
    st.vi_count += 1
    st.vi_volume, st.vi_price = vol, price
    st.vi_kind = kind
    return vi_event(st, when, True, kind, price, release), release


def end_vi(st: StockDay, when: dt.datetime) -> tuple[ViEvent, int, int]:
    """End the VI of `st`: (event, match price inside the limits, match volume >= 1)."""
    price = min(max(st.vi_price, st.limits[0]), st.limits[1])
    vol = max(st.vi_volume, 1)
    st.vi_until = None
    return vi_event(st, when, False, st.vi_kind, price, when), price, vol
