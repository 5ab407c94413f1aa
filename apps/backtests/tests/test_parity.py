"""Issue 16, "Done when" 1 (parity): one trading day replayed through the simulator — paper, the live path
over real sockets — and through the backtest produces the same trades: the same times, prices and
quantities.

Paper: the simulator replays a minute file the test writes (a frozen clock moved one scheduled item —
a print, an auction, a minute's start — at a time), the process-wide Kiwoom broker points at it, and the
realtime hub runs the live handlers (`trades`, `strategy.engine` with the built-in opening breakout,
`risk.exits`) on its own loop: ticks over the WebSocket, signals stored, sized, gated and checked, orders
sent over REST, 00 frames booked as fills. After each step the test waits until the hub has handled
everything the step produced (the ticks, the bar the minute's start closes, the orders and their fills),
as a paper session at speed 1 does between two prints. The scanner's ranking is the one row the file
has (rank 1, news score 80), as the backtest rebuilds it.

Backtest: `runner.run` with `fill_model="tape"` on the same bars (the simulator's tape and matching in
process), the active risk configuration's limits and exit policy, the same strategy settings.

The same for `condition_entry`: paper adds the `conditions` handler (the simulator's 02 frames of the chosen
condition, stored and read by the strategy handler) and stops the clock at the condition checks too; the
backtest evaluates the same condition definitions on its own exchange.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Max

from apps.backtests.runner import DayInput, Instrument, RunSpec, run
from apps.broker.simulator.conditions import DEFAULT_PATH as DEFAULT_CONDITIONS
from apps.conditions.models import Condition
from apps.conditions.models import ConditionEvent as ConditionRow
from apps.conditions.realtime_handlers import ConditionsHandler
from apps.conditions.services import condition_update
from apps.conditions.tests.live_support import DAY, at, realtime_hub, simulated_broker, wait_until
from apps.core.models import RuntimeFlag
from apps.risk.realtime_handlers import RiskExitsHandler
from apps.risk.selectors import active_config
from apps.risk.testing import permissive_config
from apps.strategy import feeds
from apps.strategy.engine.base import StrategySettings
from apps.strategy.engine.events import BarEvent, Candidate
from apps.strategy.engine.strategies import ConditionEntry, OpeningBreakout
from apps.strategy.realtime_handlers import StrategyEngineHandler
from apps.trades.models import Fill, Position
from apps.trades.realtime_handlers import TradesHandler
from krx import KST

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CODE = "005930"
PREV = DAY - dt.timedelta(days=1)
SEED = 7
BUDGET = 5_000_000
PARTICIPATION = Decimal("0.5")
HANDLERS = {
    "trades": TradesHandler,
    "strategy.engine": StrategyEngineHandler,
    "risk.exits": RiskExitsHandler,
}
INSTRUMENT = Instrument(CODE, "삼성전자", "KOSPI")
OHLCV = tuple[int, int, int, int, int]
Trade = tuple[dt.datetime, str, int, int]


RUN = (100, 100, 200, 100, 0, 100, 100, 0, 100, -100, -200, -300, -300, -400, -300)
# the run, then a fall on to 49,200: through a -3 % stop from a 51,000 entry (condition_entry has no
# exit rule of its own; the risk exits' stop is the exit both paths make on a print)
RUN_AND_FALL = (*RUN, -300, -300, -200)


def morning(day: dt.date = DAY, run: tuple[int, ...] = RUN) -> dict[str, OHLCV]:
    """An opening range of 50,000-50,600, a breakout at 09:07, a run to 51,600, a fall through the
    VWAP by 09:30 (`run`: the steps of the closes from 09:08), then a quiet day and the closing
    auction."""
    path = [
        (50_000, 50_400, 49_900, 50_300, 20_000),
        (50_300, 50_600, 50_200, 50_500, 8_000),
        (50_500, 50_500, 50_100, 50_200, 6_000),
        (50_200, 50_400, 50_100, 50_300, 5_000),
        (50_300, 50_500, 50_200, 50_400, 5_000),
        (50_400, 50_600, 50_300, 50_600, 5_000),
        (50_600, 50_900, 50_500, 50_800, 9_000),
    ]
    price = 50_800
    for step in run:
        o, price = price, price + step
        path.append((o, max(o, price) + 100, min(o, price) - 100, price, 6_000))
    bars = {}
    end = dt.datetime.combine(day, dt.time(9, 1))
    for bar in path:
        bars[end.strftime("%H%M")] = bar
        end += dt.timedelta(minutes=1)
    while end.time() <= dt.time(15, 20):
        o = price
        price = o + (100 if end.minute % 2 else -100)
        bars[end.strftime("%H%M")] = (o, max(o, price), min(o, price), price, 1_000)
        end += dt.timedelta(minutes=1)
    bars["1530"] = (price, price, price, price, 30_000)
    return bars


def previous_day() -> dict[str, OHLCV]:
    return {"0901": (49_800, 50_000, 49_700, 49_900, 9_000), "1530": (50_000,) * 4 + (5_000,)}  # type: ignore[dict-item]


def write_file(path: Path, days: dict[dt.date, dict[str, OHLCV]]) -> Path:
    lines = ["code,date,time_hhmm,open,high,low,close,volume"]
    for day, bars in days.items():
        lines += [f"{CODE},{day},{k},{o},{h},{lo},{c},{v}" for k, (o, h, lo, c, v) in bars.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def strategy_settings() -> StrategySettings:
    return StrategySettings(OpeningBreakout.name, 1, True, BUDGET, OpeningBreakout.schema.load({}))


def condition_settings(*seqs: str) -> StrategySettings:
    params = ConditionEntry.schema.load({"condition_seqs": list(seqs)})
    return StrategySettings(ConditionEntry.name, 1, True, BUDGET, params)


# ------------------------------------------------------------------ the backtest
def spec_of(
    config: Any = None, fill_model: str = "tape", settings: StrategySettings | None = None
) -> RunSpec:
    settings = settings or strategy_settings()
    limits = {} if config is None else {"limits": config.limits, "exit_policy": config.exit_policy}
    return RunSpec(
        strategy=settings.name, params=settings.params, budget_krw=BUDGET,
        participation=PARTICIPATION, assume_news_score=80, fill_model=fill_model,
        tape_seed=SEED, **limits,  # type: ignore[arg-type]
    )  # fmt: skip


def day_input(day: dt.date, bars: dict[str, OHLCV], base: int = 50_000) -> DayInput:
    events = []
    for hhmm, (o, h, lo, c, v) in bars.items():
        end = dt.datetime.combine(day, dt.time(int(hhmm[:2]), int(hhmm[2:])), tzinfo=KST)
        events.append(BarEvent(CODE, end, o, h, lo, c, v))
    return DayInput(day, events, {CODE: base}, {CODE: 14_000})


def trades_of(result: Any) -> list[Trade]:
    return sorted((f.executed_at, f.side, f.price, f.quantity) for f in result.books.fills)


def backtest(bars: dict[str, OHLCV], settings: StrategySettings | None = None) -> list[Trade]:
    """The tape backtest of `bars` with the day before paper's file holds (`previous_day`) stored."""
    spec = spec_of(active_config(), settings=settings)
    before = day_input(PREV, previous_day()).bars
    result = run(spec, [INSTRUMENT], [replace(day_input(DAY, bars), prev_bars=before)])
    assert result.notes == []  # the exchange has the stored day before
    return trades_of(result)


# ------------------------------------------------------------------ paper, over the sockets
@pytest.fixture
def live_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    use_feeds(monkeypatch, strategy_settings())


def use_feeds(monkeypatch: pytest.MonkeyPatch, settings: StrategySettings) -> None:
    """The live handlers' feeds: `settings` the one active strategy, the one-row scan; trading on."""
    scan_at = at("09:00:00")
    candidate = Candidate(CODE, "삼성전자", 1, None, None, None, None, 80)
    monkeypatch.setattr(feeds, "active_settings", lambda: {settings.name: settings})
    monkeypatch.setattr(feeds, "latest_candidates", lambda: [candidate])
    monkeypatch.setattr(feeds, "latest_scan_meta", lambda: (1, scan_at))
    monkeypatch.setattr(feeds, "news_subscribe", lambda cb: lambda: None)
    permissive_config()
    RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})


def busy(rt: Any, sim: Any, engine: StrategyEngineHandler, risk: RiskExitsHandler, t: Any) -> str:
    """What the hub has still to handle of the step to `t` ("" when nothing)."""
    prints = sim.call(lambda: sim.exchange.stats()[0].trade_count)
    if engine.stats.ticks < prints:
        return f"ticks {engine.stats.ticks} of {prints}"
    if any(s.name == "conditions" for s in rt.hub.slots):
        waiting = conditions_busy(rt, sim, engine)
        if waiting:
            return waiting
    if engine._tasks or risk._tasks:
        return "signal or exit tasks"
    if any(s.handled < s.received for s in rt.hub.slots):
        return "queued events"
    state = engine.engine.market.state(CODE) if engine.engine else None
    if state is not None and state._bar_end and state._bar_end <= int(t.timestamp() * 1000):
        # the hub's clock closes it (`ClockEvent`)
        return f"the bar of a minute that is over ({state._bar_end}, {state.emitted_end}, {engine.stats}, {[s.figures() for s in rt.hub.slots]})"
    sim_fills = len(sim.call(sim.exchange.fills, sim.account))
    if Fill.objects.count() < sim_fills:
        # An order's 00 frames leave with the exchange's next step, as on a running clock: move it
        # to where it is (no print happens) to send them.
        sim.advance_to_sync(t)
        return f"fills {Fill.objects.count()} of {sim_fills}"
    held = set(Position.objects.filter(quantity__gt=0).values_list("code", flat=True))
    if set(risk.held) != held:
        return f"risk holds {set(risk.held)}, positions {held}"
    return ""


def settle(
    rt: Any, sim: Any, engine: StrategyEngineHandler, risk: RiskExitsHandler, t: Any
) -> None:
    try:
        wait_until(lambda: not busy(rt, sim, engine, risk, t), timeout=30, step=0.005)
    except AssertionError:
        raise AssertionError(f"at {t}: {busy(rt, sim, engine, risk, t)}") from None


def conditions_busy(rt: Any, sim: Any, engine: StrategyEngineHandler) -> str:
    """What is left of the step's 02 frames: received, applied (stored, priced by the last tick) and read
    by the strategy handler."""
    conditions = rt.conditions
    sent = sum(
        1
        for e in sim.call(sim.exchange.condition_changes)
        if e.seq in conditions.subscribed  # subscribed before the first check
    )
    if conditions.stats.frames < sent:
        return f"condition frames {conditions.stats.frames} of {sent}"
    if conditions._pending or conditions._tasks:
        return "condition frames being applied"
    last = ConditionRow.objects.aggregate(m=Max("id"))["m"] or 0
    if engine.last_condition_id < last or engine._condition_lock.locked():
        return f"condition events read {engine.last_condition_id} of {last}"
    return ""


def paper(tmp_path: Path, file: Path, condition: str | None = None) -> list[Trade]:
    """The day over the sockets. `condition`: the one condition `condition_entry` buys on, subscribed in
    realtime by the conditions handler (the simulator's shipped definitions); the clock then stops at
    the exchange's condition checks too, as its 02 frames leave at them."""
    handlers = dict(HANDLERS)
    extra: dict[str, Any] = {}
    if condition is not None:
        handlers["conditions"] = ConditionsHandler
        extra["conditions_yaml"] = DEFAULT_CONDITIONS.read_text(encoding="utf-8")
    with (
        simulated_broker(
            tmp_path, start=at("08:59:00"), use_krx_calendar=False, pricing="replay",
            minute_path=file, seed=SEED, participation=PARTICIPATION, **extra,
        ) as (sim, broker),
        realtime_hub(broker, handlers=handlers, resync_seconds=0.05) as rt,
    ):  # fmt: skip
        engine = rt.hub.handler("strategy.engine")
        risk = rt.hub.handler("risk.exits")
        assert isinstance(engine, StrategyEngineHandler) and isinstance(risk, RiskExitsHandler)
        if condition is not None:
            # Synced from CNSRLST at the hub's start, switched off; the trader switches it on.
            condition_update(Condition.objects.get(seq=condition), realtime=True)
            wait_until(lambda: condition in rt.conditions.subscribed)
        # The scan is read at start (the rebuild) or on a cycle; the code's ticks are then wanted.
        wait_until(lambda: engine.scan_id == 1 and sim.call(sim.server.hub.wants, "0B", CODE))
        entries_end = at("10:01:00")
        while True:
            t = sim.call(sim.exchange.next_event_at, condition is None)
            if t is None or t > at("15:31:00"):
                break
            if t > entries_end and not Position.objects.filter(quantity__gt=0).exists():
                # No entry after 10:00 (`entry_end_minutes`) and nothing held: the rest of the
                # day cannot trade (a trade there would show as a difference all the same).
                sim.advance_to_sync(at("15:31:00"))
                break
            sim.advance_to_sync(t)
            settle(rt, sim, engine, risk, t)
        sim.advance_to_sync(at("15:45:00"))
        wait_until(lambda: not engine._tasks and not risk._tasks)
        assert engine.stats.errors == 0 and risk.stats.errors == 0
        fills = sim.call(sim.exchange.fills, sim.account)
    return sorted((f.time, f.side.value, f.price, f.qty) for f in fills)


@pytest.mark.timeout(900)  # about 700 steps of the exchange, each waited out
def test_a_replayed_day_trades_the_same_in_paper_and_in_the_backtest(
    tmp_path: Path, live_feeds: None
) -> None:
    bars = morning()
    file = write_file(tmp_path / "005930_1min.csv", {PREV: previous_day(), DAY: bars})
    ours = backtest(bars)
    theirs = paper(tmp_path, file)
    assert [t[1] for t in ours] == ["buy", "sell"], ours  # the fixture does make a round trip
    assert ours == theirs


@pytest.mark.timeout(900)  # the checks every 10 s add about 360 steps (09:00-10:01) to the day
@pytest.mark.parametrize(("seq", "entry"), [("2", "09:07:50"), ("1", "09:06:20")])
def test_a_condition_entry_day_trades_the_same_in_paper_and_in_the_backtest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seq: str, entry: str
) -> None:
    """`condition_entry` on 당일 신고가 (seq 2 of the simulator's shipped conditions) and on 전일대비 거래량
    급증 (seq 1: `volume_ratio_prev_day`, read from the day before both replay): paper gets the entry as
    a 02 frame (the conditions handler stores it, priced by the last tick; the strategy handler reads
    it), the backtest from its exchange's own checks. The buy at the entry's check, the -3 % stop on a
    print of the fall."""
    settings = condition_settings(seq)
    use_feeds(monkeypatch, settings)
    bars = morning(run=RUN_AND_FALL)
    file = write_file(tmp_path / "005930_1min.csv", {PREV: previous_day(), DAY: bars})
    ours = backtest(bars, settings)
    assert [t[1] for t in ours] == ["buy", "sell"], ours  # the fixture does make a round trip
    assert ours[0][0] == at(entry)  # a check's time: the entry, not a print
    theirs = paper(tmp_path, file, condition=seq)
    assert ours == theirs
