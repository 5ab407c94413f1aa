"""Replay fidelity: a replayed minute file comes back exactly, through ka10080 (the real client over
sockets) and as 0B ticks aggregated by the project's own MinuteAggregator, from any start time."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.broker.contract import Tick as ContractTick
from apps.broker.kiwoom.rest import KiwoomRestClient
from apps.broker.kiwoom.ws import KiwoomWebSocket, WsOptions
from apps.broker.simulator.dto import OrderType, Tick
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.fidelity import OHLCV, compare, label, served_bars, tick_bars
from apps.broker.simulator.pricing import bar_representable, minute_ticks
from apps.broker.simulator.testing import running_simulator
from apps.market.aggregator import MinuteAggregator, epoch_ms
from krx import KST, regular_session

from .client_support import cleanup_prefix, client_config

CODE = "005930"
DAYS = (dt.date(2018, 1, 16), dt.date(2018, 1, 17))
TICK = 1000  # the 2018 KOSPI tick above 500,000 won


def fixture_day(day: dt.date, seed: int, first_open: int) -> dict[str, OHLCV]:
    """A handmade session of 1-minute bars: wide and narrow bars, flat bars, bars of 1-4 shares,
    bars whose open or close is the high or low, minutes without trades, and a closing auction."""
    rng = random.Random(seed)
    out: dict[str, OHLCV] = {}
    price = first_open
    end = dt.datetime.combine(day, dt.time(9, 1))
    for m in range(380):
        hhmm = end.strftime("%H%M")
        end += dt.timedelta(minutes=1)
        if m % 37 == 5:
            continue  # nobody traded this minute
        kind = m % 6
        o = price
        c = o + TICK * rng.randint(-3, 3)
        h = max(o, c) + TICK * rng.randint(0, 2)
        lo = min(o, c) - TICK * rng.randint(0, 2)
        if kind == 0:
            h = lo = c = o  # flat
        elif kind == 1:
            h = o  # opens at the high
        elif kind == 2:
            lo = c  # closes at the low
        lo, h = min(lo, o, c), max(h, o, c)
        need = 1 + (h not in (o, c)) + (lo not in (o, c) and lo != h) + (c != o or h != lo)
        v = rng.choice([need, need + 1, rng.randint(need, 40), rng.randint(100, 5000)])
        out[hhmm] = (o, h, lo, c, v)
        price = c
    out["1530"] = (price, price, price, price, 12_345)
    return out


def write_file(path: Path, days: dict[dt.date, dict[str, OHLCV]]) -> Path:
    lines = ["code,date,time_hhmm,open,high,low,close,volume"]
    for day, bars in days.items():
        lines += [f"{CODE},{day},{k},{o},{h},{lo},{c},{v}" for k, (o, h, lo, c, v) in bars.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fixture_days() -> dict[dt.date, dict[str, OHLCV]]:
    return {
        DAYS[0]: fixture_day(DAYS[0], 1, 2_480_000),
        DAYS[1]: fixture_day(DAYS[1], 2, 2_450_000),
    }


@pytest.fixture
def minute_file(tmp_path: Path, fixture_days: dict[dt.date, dict[str, OHLCV]]) -> Path:
    return write_file(tmp_path / "005930_1min.csv", fixture_days)


def new_aggregator(code: str, day: dt.date) -> MinuteAggregator:
    return MinuteAggregator(code, regular_session(day))


def at(day: dt.date, hhmm: str, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(int(hhmm[:2]), int(hhmm[2:]), second), tzinfo=KST)


def replay(path: Path, start: dt.datetime, **kw: object) -> Exchange:
    return Exchange(
        ExchangeConfig(
            pricing="replay", minute_path=path, start=start, use_krx_calendar=False,
            accounts=("5000000010",), **kw,  # type: ignore[arg-type]
        )
    )  # fmt: skip


def since(start: dt.datetime) -> str:
    """Ticks are compared for bars that end after the first whole minute after the start."""
    return (start + dt.timedelta(minutes=1)).strftime("%H%M")


def test_fixture_bars_are_printable(fixture_days: dict[dt.date, dict[str, OHLCV]]) -> None:
    bars = [b for day in fixture_days.values() for b in day.values()]
    assert all(bar_representable(b) for b in bars)
    assert sum(1 for b in bars if b[4] <= 4) > 20  # the fixture does exercise tiny volumes


@pytest.mark.parametrize(
    ("hhmm", "second"),
    [("0830", 0), ("0900", 0), ("0904", 30), ("1100", 0), ("1337", 15), ("1525", 0), ("1600", 0)],
)
def test_replay_serves_and_streams_the_real_bars(
    minute_file: Path, fixture_days: dict[dt.date, dict[str, OHLCV]], hhmm: str, second: int
) -> None:
    day = DAYS[1]
    start = at(day, hhmm, second)
    ex = replay(minute_file, start)
    events = ex.advance(at(day, "1545"))
    real = fixture_days[day]
    served = compare(real, served_bars(ex.minute_bars(CODE, 1, None, 2000), day))
    assert served.exact and served.compared == len(real), served
    # The day before the start is a past day served from history: also the real one.
    past = compare(
        fixture_days[DAYS[0]],
        served_bars(ex.minute_bars(CODE, 1, at(day, "0000"), 2000), DAYS[0]),
    )
    assert past.exact and past.compared == len(fixture_days[DAYS[0]]), past
    ticks = [e for e in events if isinstance(e, Tick)]
    streamed = compare(real, tick_bars(ticks, CODE, day, new_aggregator), since=since(start))
    assert streamed.exact, streamed
    assert ex.quote(CODE).price == real["1530"][3]


def test_our_orders_do_not_move_the_replayed_tape(
    minute_file: Path, fixture_days: dict[dt.date, dict[str, OHLCV]]
) -> None:
    day = DAYS[0]
    ex = replay(minute_file, at(day, "0930"))
    q = ex.quote(CODE)
    ex.place_order(
        "5000000010", "buy", CODE, 5, 0, OrderType.MARKET
    )  # fills against the synthesised book
    ex.place_order("5000000010", "buy", CODE, 20, q.price - 2 * TICK)  # rests, the tape fills it
    events = ex.advance(at(day, "1545"))
    assert ex.fills("5000000010")
    real = fixture_days[day]
    assert compare(real, served_bars(ex.minute_bars(CODE, 1, None, 2000), day)).exact
    assert compare(
        real,
        tick_bars([e for e in events if isinstance(e, Tick)], CODE, day, new_aggregator),
        "0931",
    ).exact


def test_the_next_day_rolls_on_from_the_replayed_close(
    minute_file: Path, fixture_days: dict[dt.date, dict[str, OHLCV]]
) -> None:
    ex = replay(minute_file, at(DAYS[0], "1400"))
    events = ex.advance(at(DAYS[1], "1545"))
    ticks = [e for e in events if isinstance(e, Tick)]
    for day in DAYS:
        real = fixture_days[day]
        assert compare(real, served_bars(ex.minute_bars(CODE, 1, None, 2000), day)).exact
    assert compare(fixture_days[DAYS[1]], tick_bars(ticks, CODE, DAYS[1], new_aggregator)).exact


# ------------------------------------------------------------------ over sockets, real client
async def collect_ticks(ws: KiwoomWebSocket, until: Callable[[ContractTick], bool]) -> list:
    out: list[ContractTick] = []
    while True:
        event = await ws.next_event(within=20)
        if isinstance(event, ContractTick):
            out.append(event)
            if until(event):
                return out


@pytest.mark.parametrize("hhmm", ["0830", "1100", "1600"])
async def test_replay_over_sockets_through_the_real_client(
    minute_file: Path, fixture_days: dict[dt.date, dict[str, OHLCV]], hhmm: str
) -> None:
    day = DAYS[1]
    start = at(day, hhmm)
    async with running_simulator(
        start=start, pricing="replay", minute_path=minute_file, use_krx_calendar=False
    ) as sim:
        cfg = client_config(sim)
        try:
            async with KiwoomRestClient(cfg) as rest:
                ticks: list[ContractTick] = []
                if hhmm < "1530":
                    ws = KiwoomWebSocket(
                        sim.ws_url, rest.tokens.get, rest.tokens.invalidate,
                        options=WsOptions(request_timeout=5.0),
                        today=lambda: day,  # 0B stamps a time of day; the day is the exchange's
                    )  # fmt: skip
                    async with ws:
                        await ws.subscribe([CODE], ["0B"], group="1")
                        waiting = asyncio.create_task(
                            collect_ticks(
                                ws, lambda t: t.at is not None and t.at >= at(day, "1530")
                            )
                        )
                        await sim.advance_to(at(day, "1545"))
                        ticks = await waiting
                else:
                    await sim.advance_to(at(day, "1545"))
                bars = await rest.minute_bars(CODE, 1)  # one page: 900 bars, both days
        finally:
            await cleanup_prefix(cfg.key_prefix)
    for d in DAYS:
        got = {
            label(b.at): (b.open, b.high, b.low, b.close, b.volume)
            for b in bars
            if b.at.date() == d
        }
        result = compare(fixture_days[d], got)
        assert result.exact and result.compared == len(fixture_days[d]), (d, result)
    if hhmm < "1530":
        agg = MinuteAggregator(CODE, regular_session(day))
        streamed: dict[str, OHLCV] = {}
        for t in ticks:
            done = agg.on_trade(t)
            if done is not None:
                streamed[label(done.end)] = (
                    done.open,
                    done.high,
                    done.low,
                    done.close,
                    done.volume,
                )
        last = agg.flush()
        assert last is not None
        streamed[label(last.end)] = (last.open, last.high, last.low, last.close, last.volume)
        result = compare(fixture_days[day], streamed, since=since(start))
        assert result.exact and result.compared > 200, result


# ------------------------------------------------------------------ properties
@st.composite
def bars(draw: st.DrawFn, band: tuple[int, int] = (100, 200)) -> OHLCV:
    o = draw(st.integers(*band)) * TICK
    c = o + draw(st.integers(-10, 10)) * TICK
    h = max(o, c) + draw(st.integers(0, 10)) * TICK
    lo = min(o, c) - draw(st.integers(0, 10)) * TICK
    need = next(n for n in range(1, 5) if bar_representable((o, h, lo, c, n)))
    return (o, h, lo, c, draw(st.integers(need, 50_000)))


@given(bar=bars(), avg=st.integers(1, 100_000), seed=st.integers(0, 2**32))
@settings(max_examples=300, deadline=None)
def test_minute_ticks_aggregate_to_the_bar(bar: OHLCV, avg: int, seed: int) -> None:
    day = DAYS[0]
    minute = at(day, "1000")
    ticks = minute_ticks(random.Random(seed), bar, avg)
    assert all(q >= 1 for _, _, q in ticks)
    agg = MinuteAggregator(CODE, regular_session(day))
    for offset, price, qty in ticks:
        assert agg.on_tick(epoch_ms(minute) + offset, price, qty) is None
    done = agg.flush()
    assert done is not None
    assert (done.open, done.high, done.low, done.close, done.volume) == bar
    assert label(done.end) == "1001"


@given(
    # One price band: a real day stays inside its ±30 % limits.
    day_bars=st.lists(bars(band=(145, 155)), min_size=3, max_size=12),
    gaps=st.lists(st.integers(1, 25), min_size=12, max_size=12),
    start_minute=st.integers(-30, 400),
)
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_days_replay_exactly(
    tmp_path: Path, day_bars: list[OHLCV], gaps: list[int], start_minute: int
) -> None:
    day = DAYS[0]
    real: dict[str, OHLCV] = {}
    end = at(day, "0900")
    for bar, gap in zip(day_bars, gaps, strict=False):
        end += dt.timedelta(minutes=gap)
        if end > at(day, "1520"):
            break
        real[end.strftime("%H%M")] = bar
    real["1530"] = (day_bars[-1][3],) * 4 + (777,)  # type: ignore[assignment]
    path = write_file(tmp_path / f"f{random.random()}.csv", {day: real})
    start = at(day, "0900") + dt.timedelta(minutes=start_minute)
    ex = replay(path, start)
    events = ex.advance(at(day, "1545"))
    assert compare(real, served_bars(ex.minute_bars(CODE, 1, None, 2000), day)).exact
    ticks = [e for e in events if isinstance(e, Tick)]
    assert compare(real, tick_bars(ticks, CODE, day, new_aggregator), since=since(start)).exact
