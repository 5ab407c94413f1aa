"""The strategy engine's rules on handmade tick and bar sequences (pure: no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.market.aggregator import MinuteAggregator, epoch_ms
from apps.strategy.engine.base import StrategySettings
from apps.strategy.engine.events import BarEvent, ClockEvent, ConditionEvent, TickEvent
from apps.strategy.engine.params import ParamsInvalid
from apps.strategy.engine.runner import UnknownStrategy, build_engine
from krx import calendar

from .engine_support import CODE, DAY, at, engine, news, opening, run, scan, settings, tick

BREAK = tick(9, 7, 10, 10_150)


# ------------------------------------------------------------------ opening breakout: entries
def test_breakout_above_a_held_vwap_buys_once_with_its_features() -> None:
    eng = engine(opening_breakout={})
    assert run(eng, [*opening()[:3], scan(rank=2, news=85), *opening()[3:]]) == []
    [signal] = run(eng, [BREAK])
    assert (signal.strategy, signal.code, signal.side, signal.price) == (
        "opening_breakout",
        CODE,
        "buy",
        10_150,
    )
    assert signal.at == at(9, 7, 10)
    assert signal.key == f"opening_breakout:{CODE}:{DAY}:entry"
    f = signal.features
    assert (f["rank"], f["news_score"], f["opening_high"], f["opening_low"]) == (
        2,
        85,
        10_100,
        9_950,
    )
    assert f["price"] == 10_150 and 9_990 < f["vwap"] < 10_010
    assert f["vwap_distance_pct"] == pytest.approx((10_150 - f["vwap"]) / f["vwap"] * 100, abs=0.01)
    assert f["bar_time"] == at(9, 7).astimezone(dt.UTC).isoformat()
    assert "10,100" in signal.reason
    # one entry per code per day: later breaks, even higher, do nothing
    assert run(eng, [tick(9, 8, 10, 10_200), tick(9, 20, 0, 10_250)]) == []


def test_no_entry_while_the_last_bars_did_not_hold_above_vwap() -> None:
    eng = engine(opening_breakout={})  # vwap_hold_bars = 2
    run(eng, [scan(), *opening(hold_last_bar_below=True)])
    assert run(eng, [BREAK]) == []  # the 09:07 bar closed at 9,900 < VWAP
    # the 09:08 bar closes above, but the 09:07 one is still among the last two
    assert run(eng, [tick(9, 8, 10, 10_160)]) == []
    # one bar more: the last two (09:08, 09:09) held
    [signal] = run(eng, [tick(9, 9, 10, 10_170)])
    assert signal.price == 10_170 and signal.features["hold_bars"] == 2


def test_hold_of_one_bar_only_needs_the_last_bar() -> None:
    eng = engine(opening_breakout={"vwap_hold_bars": 1})
    run(eng, [scan(), *opening(hold_last_bar_below=True), BREAK])
    [signal] = run(eng, [tick(9, 8, 10, 10_160)])  # the 09:08 bar (10,150) closed above
    assert signal.price == 10_160


def test_price_under_vwap_by_the_margin_does_not_buy() -> None:
    eng = engine(opening_breakout={"vwap_margin_pct": "2"})  # needs price > VWAP × 1.02 ≈ 10,200
    run(eng, [scan(), *opening()])
    assert run(eng, [BREAK]) == []
    assert len(run(eng, [tick(9, 7, 20, 10_250)])) == 1


def test_news_below_threshold_or_missing_fails_closed() -> None:
    low = engine(opening_breakout={})
    run(low, [scan(news=69), *opening()])
    assert run(low, [BREAK]) == []

    missing = engine(opening_breakout={})
    run(missing, [scan(news=None), *opening()])
    assert run(missing, [BREAK]) == []
    # a later news event above the threshold opens the rule
    run(missing, [news(90, at(9, 7, 15))])
    [signal] = run(missing, [tick(9, 7, 20, 10_160)])
    assert signal.features["news_score"] == 90


def test_a_later_news_score_replaces_the_scans() -> None:
    eng = engine(opening_breakout={})
    run(eng, [scan(news=90), *opening(), news(40, at(9, 6, 30))])
    assert run(eng, [BREAK]) == []


def test_news_of_another_day_does_not_count() -> None:
    eng = engine(opening_breakout={})
    run(eng, [news(95, at(15, 0, day=dt.date(2025, 1, 14))), scan(news=None), *opening()])
    assert run(eng, [BREAK]) == []


@pytest.mark.parametrize(("rank", "top_n", "buys"), [(5, 5, 1), (6, 5, 0), (1, 1, 1), (2, 1, 0)])
def test_rank_must_be_within_top_n(rank: int, top_n: int, buys: int) -> None:
    eng = engine(opening_breakout={"top_n": top_n})
    run(eng, [scan(rank=rank), *opening()])
    assert len(run(eng, [BREAK])) == buys


def test_a_code_dropped_from_the_latest_scan_has_no_rank() -> None:
    eng = engine(opening_breakout={})
    run(eng, [scan(rank=1), *opening(), scan(rank=1, code="000660", when=at(9, 7))])
    assert run(eng, [BREAK]) == []


def test_no_entry_before_the_opening_range_completes() -> None:
    eng = engine(opening_breakout={"opening_range_minutes": 5, "vwap_hold_bars": 0})
    events = [scan(), tick(9, 0, 0, 10_000, 1_000), tick(9, 1, 0, 10_100), tick(9, 2, 0, 10_300)]
    events += [tick(9, 3, 0, 10_400), tick(9, 4, 59, 10_500)]
    assert run(eng, events) == []  # new highs inside the range are the range
    assert run(eng, [tick(9, 5, 5, 10_450)]) == []  # after it, but not above its high (10,500)
    [signal] = run(eng, [tick(9, 5, 30, 10_510)])
    assert signal.features["opening_high"] == 10_500


def test_no_entry_after_the_entry_window() -> None:
    eng = engine(opening_breakout={"entry_end_minutes": 7})
    run(eng, [scan(), *opening()])
    assert run(eng, [BREAK]) == []  # 09:07:10 is past open + 7 minutes


def test_no_chasing_a_break_beyond_the_max_extension() -> None:
    eng = engine(opening_breakout={"max_extension_pct": "1"})  # ≤ 10,201
    run(eng, [scan(), *opening()])
    assert run(eng, [tick(9, 7, 10, 10_300)]) == []
    assert len(run(eng, [tick(9, 7, 20, 10_200)])) == 1


def test_a_switched_off_strategy_buys_nothing_but_follows_scans() -> None:
    eng = build_engine({"opening_breakout": settings("opening_breakout", enabled=False)})
    run(eng, [scan(), *opening()])
    assert run(eng, [BREAK]) == []
    eng.reconfigure({"opening_breakout": settings("opening_breakout", enabled=True, version=2)})
    assert len(run(eng, [tick(9, 7, 20, 10_160)])) == 1


# ------------------------------------------------------------------ opening breakout: exit
def test_vwap_breakdown_sells_what_it_entered() -> None:
    eng = engine(opening_breakout={})
    run(eng, [scan(), *opening(), BREAK])
    # the 09:08 bar (entry bar, close 10,150) closes above VWAP: nothing
    assert run(eng, [tick(9, 8, 10, 9_900)]) == []
    # the 09:09 bar closes at 9,900, more than 0.5% under VWAP ≈ 10,000
    [sell] = run(eng, [tick(9, 9, 10, 9_900)])
    assert (sell.side, sell.price, sell.key) == (
        "sell",
        9_900,
        f"opening_breakout:{CODE}:{DAY}:exit",
    )
    assert sell.at == at(9, 9)
    f = sell.features
    assert f["rule"] == "vwap_breakdown" and f["vwap_distance_pct"] < -0.5
    assert f["opening_high"] == 10_100 and f["bar_time"] == sell.at.isoformat()
    assert run(eng, [tick(9, 10, 10, 9_800), tick(9, 11, 10, 9_700)]) == []  # once


def test_a_close_within_the_margin_is_no_breakdown() -> None:
    eng = engine(opening_breakout={"exit_vwap_margin_pct": "3"})
    run(eng, [scan(), *opening(), BREAK, tick(9, 8, 10, 9_900)])
    assert run(eng, [tick(9, 9, 10, 9_900)]) == []  # -1% < 3% margin


def test_no_exit_for_a_code_it_did_not_enter_or_with_exits_off() -> None:
    eng = engine(opening_breakout={})
    run(eng, [scan(rank=50), *opening(), BREAK, tick(9, 8, 10, 9_900)])
    assert run(eng, [tick(9, 9, 10, 9_900)]) == []
    off = engine(opening_breakout={"exit_on_vwap_break": False})
    run(off, [scan(), *opening(), BREAK, tick(9, 8, 10, 9_900)])
    assert run(off, [tick(9, 9, 10, 9_900)]) == []


def test_no_exit_after_an_entry_that_made_no_order() -> None:
    """An entry refused by sizing or the risk engine, gated or failed (`Engine.dismiss`): no exit
    follows (it would have nothing to sell), its key stays fired, and a restart that is told so
    (`mark_fired(…, dismissed=…)`) does not watch the code either."""
    eng = engine(opening_breakout={})
    [buy] = run(eng, [scan(), *opening(), BREAK])
    eng.dismiss(buy)
    assert run(eng, [tick(9, 8, 10, 9_900), tick(9, 9, 10, 9_900), tick(9, 10, 10, 9_800)]) == []
    assert buy.key in eng.fired and buy.key in eng.dismissed
    assert run(eng, [tick(9, 10, 20, 10_200)]) == []  # never entered again the same day
    again = engine(opening_breakout={})
    again.mark_fired([buy.key], {buy.key: buy.at}, dismissed=[buy.key])
    assert run(again, [scan(), *opening(), BREAK]) == []
    assert run(again, [tick(9, 8, 10, 9_900), tick(9, 9, 10, 9_900)]) == []
    # A later strategy configuration (built anew) is not told the dismissed entry either.
    again.reconfigure({})
    again.reconfigure({"opening_breakout": settings("opening_breakout", version=3)})
    assert run(again, [tick(9, 10, 10, 9_800), tick(9, 11, 10, 9_700)]) == []


def test_exits_continue_while_the_strategy_is_switched_off() -> None:
    eng = engine(opening_breakout={})
    run(eng, [scan(), *opening(), BREAK])
    eng.reconfigure({"opening_breakout": settings("opening_breakout", enabled=False, version=2)})
    run(eng, [tick(9, 8, 10, 9_900)])
    [sell] = run(eng, [tick(9, 9, 10, 9_900)])
    assert sell.side == "sell"


def test_a_clock_event_closes_the_bar_without_a_tick() -> None:
    eng = engine(opening_breakout={})
    run(eng, [scan(), *opening(), BREAK, tick(9, 8, 10, 9_900)])
    assert run(eng, [ClockEvent(at(9, 8, 59))]) == []
    [sell] = run(eng, [ClockEvent(at(9, 9, 0))])
    assert sell.side == "sell" and sell.at == at(9, 9)


# ------------------------------------------------------------------ restart, determinism
def test_a_restart_neither_repeats_nor_misses() -> None:
    first = engine(opening_breakout={})
    [buy] = run(first, [scan(), *opening(), BREAK])
    again = engine(opening_breakout={})
    again.mark_fired([buy.key], {buy.key: buy.at})  # the stored signals of today
    assert run(again, [scan(), *opening(), BREAK]) == []
    run(again, [tick(9, 8, 10, 9_900)])
    [sell] = run(again, [tick(9, 9, 10, 9_900)])  # it still knows what it entered
    assert sell.side == "sell"


def _session(n: int) -> list:
    events = [scan(rank=1, code="000660"), scan(), *opening(), BREAK]
    for i in range(n):
        events.append(tick(9, 8 + i // 6, (i * 10) % 60, 10_000 + (i * 37) % 300 - 150))
        if i % 7 == 0:
            events.append(ConditionEvent("000660", at(9, 8 + i // 6), "3", "급등", True, 20_000))
    return events


def test_same_events_give_the_same_signals() -> None:
    params = {"opening_breakout": {}, "condition_entry": {"condition_seqs": ["3"]}}
    a = run(engine(**params), _session(120))
    b = run(engine(**params), _session(120))
    assert a == b and len(a) >= 3


def test_reconfigure_keeps_market_state_mid_session() -> None:
    eng = engine(opening_breakout={"opening_range_minutes": 3})
    run(eng, [scan(), *opening()])
    state = eng.market.state(CODE)
    bars, vwap = list(state.bars), state.vwap
    # the range of 5 minutes is asked for only now: computed from the bars kept
    eng.reconfigure({"opening_breakout": settings("opening_breakout", version=2)})
    assert eng.market.state(CODE) is state and state.bars == bars and state.vwap == vwap
    [signal] = run(eng, [BREAK])
    assert (
        signal.features["opening_high"] == 10_100 and signal.features["opening_range_minutes"] == 5
    )


def test_reconfigure_rejects_bad_parameters_and_changes_nothing() -> None:
    eng = engine(opening_breakout={"top_n": 3})
    strategy = eng.strategies[0]
    bad = StrategySettings("opening_breakout", 2, True, 1, {"top_n": 0})
    with pytest.raises(ParamsInvalid) as err:
        eng.reconfigure({"opening_breakout": bad})
    assert set(err.value.errors) == {"top_n"}
    assert eng.strategies == [strategy] and strategy.settings.version == 1
    with pytest.raises(UnknownStrategy):
        build_engine({"nope": StrategySettings("nope", 1, True, 1, {})})


# ------------------------------------------------------------------ bars
def test_bars_equal_the_market_aggregators() -> None:
    eng = engine(opening_breakout={})
    events = [
        *opening(),
        BREAK,
        tick(9, 8, 10, 9_900),
        tick(15, 20, 30, 10_000),
        tick(15, 30, 2, 10_010),
    ]
    agg = MinuteAggregator(CODE, calendar.session(DAY))
    expected = []
    for e in events:
        bar = agg.on_tick(epoch_ms(e.at), e.price, e.quantity)
        if bar:
            expected.append(bar)
    run(eng, [*events, ClockEvent(at(15, 31, 1))])
    expected.append(agg.flush())
    got = eng.market.state(CODE).bars
    assert [(epoch_ms(b.end), b.open, b.high, b.low, b.close, b.volume) for b in expected] == [
        (b.end_ms, b.open, b.high, b.low, b.close, b.volume) for b in got
    ]
    assert eng.market.state(CODE).vwap == pytest.approx(agg.vwap)


def test_off_session_ticks_and_holidays_are_ignored() -> None:
    eng = engine(opening_breakout={})
    run(eng, [tick(8, 59, 0, 10_000), tick(15, 45, 0, 10_000)])
    assert eng.market.state(CODE).cum_volume == 0
    sunday = TickEvent(CODE, at(10, 0, day=dt.date(2025, 1, 19)), 10_000, 5)
    assert run(eng, [sunday]) == [] and eng.market.state(CODE).day == DAY


def test_minute_bars_alone_drive_the_rule_at_the_close() -> None:
    """A backtest on minute bars: the rule is judged at each bar's close, with the close."""
    eng = engine(opening_breakout={})
    bars = [
        (1, 10_000, 10_000, 10_000, 10_000, 1_000),
        (2, 10_100, 10_100, 10_100, 10_100, 10),
        (3, 9_950, 9_950, 9_950, 9_950, 10),
        (4, 10_000, 10_000, 10_000, 10_000, 10),
        (5, 10_000, 10_000, 10_000, 10_000, 10),
        (6, 10_050, 10_050, 10_050, 10_050, 10),
        (7, 10_050, 10_050, 10_050, 10_050, 10),
        (8, 10_050, 10_160, 10_050, 10_150, 10),
    ]
    events = [scan()] + [
        BarEvent(CODE, at(9, m), o, h, lo, c, v, None) for m, o, h, lo, c, v in bars
    ]
    [signal] = run(eng, events)
    assert signal.at == at(9, 8) and signal.price == 10_150
    assert signal.features["opening_high"] == 10_100


# ------------------------------------------------------------------ condition entry
def _cond(seq: str = "3", entered: bool = True, price: int | None = 10_150) -> ConditionEvent:
    return ConditionEvent(CODE, at(9, 30), seq, "거래량 급증", entered, price, 77)


def test_condition_entry_buys_a_chosen_condition_once() -> None:
    eng = engine(condition_entry={"condition_seqs": "3,5"})
    assert run(eng, [_cond(seq="4")]) == []
    assert run(eng, [_cond(entered=False)]) == []
    [signal] = run(eng, [_cond()])
    assert (signal.side, signal.strategy, signal.price) == ("buy", "condition_entry", 10_150)
    f = signal.features
    assert (f["condition_seq"], f["condition_name"], f["condition_event_id"]) == (
        "3",
        "거래량 급증",
        77,
    )
    assert signal.key == f"condition_entry:{CODE}:{DAY}:entry" and "거래량 급증" in signal.reason
    assert run(eng, [_cond(seq="5")]) == []  # one entry per code per day


def test_condition_entry_news_filter_fails_closed() -> None:
    eng = engine(condition_entry={"condition_seqs": ["3"], "news_threshold": 60})
    assert run(eng, [_cond()]) == []
    run(eng, [news(59, at(9, 10))])
    assert run(eng, [_cond()]) == []
    run(eng, [news(60, at(9, 20))])
    assert len(run(eng, [_cond()])) == 1


def test_condition_entry_vwap_filter() -> None:
    eng = engine(condition_entry={"condition_seqs": ["3"], "require_above_vwap": True})
    assert run(eng, [_cond()]) == []  # no ticks of the code: VWAP unknown
    run(eng, opening())
    assert run(eng, [_cond(price=9_900)]) == []
    [signal] = run(eng, [_cond(price=10_100)])
    assert signal.features["vwap_distance_pct"] > 0


def test_condition_entry_max_change_filter() -> None:
    eng = engine(condition_entry={"condition_seqs": ["3"], "max_change_pct": "5"})
    assert run(eng, [_cond()]) == []  # change unknown
    run(eng, [TickEvent(CODE, at(9, 10), 10_000, 1, change_pct=Decimal("7.5"))])
    assert run(eng, [_cond()]) == []
    run(eng, [TickEvent(CODE, at(9, 11), 10_000, 1, change_pct=Decimal("4.9"))])
    [signal] = run(eng, [_cond()])
    assert signal.features["change_pct"] == "4.9"


def test_condition_entry_change_from_the_scan() -> None:
    eng = engine(condition_entry={"condition_seqs": ["3"], "max_change_pct": "3.5"})
    run(eng, [scan()])  # change 3.1%
    assert len(run(eng, [_cond()])) == 1


def test_condition_entry_switched_off_buys_nothing() -> None:
    eng = build_engine(
        {"condition_entry": settings("condition_entry", enabled=False, condition_seqs=("3",))}
    )
    assert run(eng, [_cond()]) == []


def test_warm_up_rebuilds_state_without_signals() -> None:
    live = engine(opening_breakout={})
    [buy] = run(live, [scan(), *opening(), BREAK])
    restarted = engine(opening_breakout={})
    stored_bars = [
        BarEvent(CODE, dt.datetime.fromtimestamp(b.end_ms / 1000, dt.UTC), b.open, b.high, b.low,
                 b.close, b.volume, b.value)
        for b in live.market.state(CODE).bars
    ]  # fmt: skip
    restarted.warm_up([scan(), *stored_bars, _cond()])
    restarted.mark_fired([buy.key], {buy.key: buy.at})
    state = restarted.market.state(CODE)
    assert state.opening_range(5) == (10_100, 9_950) and len(state.bars) == len(stored_bars)
    assert run(restarted, [tick(9, 7, 30, 10_200)]) == []  # no second entry
    run(restarted, [tick(9, 8, 10, 9_900)])
    [sell] = run(restarted, [tick(9, 9, 10, 9_900)])
    assert sell.side == "sell"


def test_a_hub_feeding_its_own_bars_beside_the_ticks() -> None:
    """The realtime hub closes bars itself and feeds each as a BarEvent before the tick of the next
    minute: the bar replaces the one the ticks built (no double count) and counts as live."""
    plain = engine(opening_breakout={})
    both = engine(opening_breakout={})
    events = [scan(), *opening(), BREAK, tick(9, 8, 10, 9_900), tick(9, 9, 10, 9_900)]
    expected = run(plain, events)
    fed = []
    for e in events:
        if isinstance(e, TickEvent):
            state = both.market.state(CODE)
            if (
                state is not None
                and state.last_ms
                and epoch_ms(e.at) // 60_000 > state.last_ms // 60_000
            ):
                o = [x for x in events if isinstance(x, TickEvent) and x.at <= e.at]
                minute = [x for x in o if epoch_ms(x.at) // 60_000 == state.last_ms // 60_000]
                prices = [x.price for x in minute]
                end = dt.datetime.fromtimestamp((state.last_ms // 60_000 + 1) * 60, dt.UTC)
                fed.extend(
                    both.on_event(
                        BarEvent(
                            CODE,
                            end,
                            prices[0],
                            max(prices),
                            min(prices),
                            prices[-1],
                            sum(x.quantity for x in minute),
                            sum(x.price * x.quantity for x in minute),
                        )
                    )
                )
        fed.extend(both.on_event(e))
    assert [s.key for s in fed] == [s.key for s in expected] and len(expected) == 2
    assert both.market.state(CODE).vwap == plain.market.state(CODE).vwap
    assert len(both.market.state(CODE).bars) == len(plain.market.state(CODE).bars)


def test_a_restored_entry_without_its_time_exits_on_live_bars_only() -> None:
    first = engine(opening_breakout={})
    [buy] = run(first, [scan(), *opening(), BREAK])
    again = engine(opening_breakout={})
    again.mark_fired([buy.key])  # no time
    history = [
        BarEvent(CODE, dt.datetime.fromtimestamp(b.end_ms / 1000, dt.UTC), b.open, b.high, b.low,
                 b.close, b.volume, b.value)
        for b in first.market.state(CODE).bars
    ]  # fmt: skip
    low = BarEvent(CODE, at(9, 8), 9_900, 9_900, 9_900, 9_900, 10, 99_000)
    assert run(again, [scan(), *history, low]) == []  # history: no exit judged
    run(again, [tick(9, 8, 10, 9_900)])
    [sell] = run(again, [tick(9, 9, 10, 9_900)])
    assert sell.side == "sell"


def test_assigning_settings_applies_the_parameters() -> None:
    eng = engine(opening_breakout={})
    run(eng, [scan(rank=4), *opening()])
    strategy = eng.strategies[0]
    strategy.settings = settings("opening_breakout", version=2, top_n=3)  # rank 4 is now outside
    assert strategy.top_n == 3 and strategy.settings.version == 2
    assert run(eng, [BREAK]) == []
    with pytest.raises(ParamsInvalid):
        strategy.settings = settings("opening_breakout", version=3, top_n=0)
    assert strategy.top_n == 3 and strategy.settings.version == 2


# ------------------------------------------------------------------ market: missing minutes before a tick
def test_missing_before_names_whole_minutes_the_state_never_saw() -> None:
    eng = engine(opening_breakout={})
    market = eng.market
    assert market.missing_before(CODE, at(9, 0, 0)) is False  # the open: nothing can be missing
    assert market.missing_before(CODE, at(9, 0, 59)) is False
    assert market.missing_before(CODE, at(9, 1, 0)) is True  # the 09:01 bar is not here
    assert market.missing_before(CODE, at(8, 59, 0)) is False  # before the open
    assert market.missing_before(CODE, at(15, 31, 30)) is False  # after the closing print window
    run(eng, [tick(9, 0, 10, 10_000)])  # builds the 09:01 bar
    assert market.missing_before(CODE, at(9, 1, 30)) is False  # the tick's own minute follows it
    assert market.missing_before(CODE, at(9, 2, 30)) is True  # 09:02 was never seen
    eng.warm_up([BarEvent(CODE, at(9, 2), 10_000, 10_000, 10_000, 10_000, 5)])
    assert market.missing_before(CODE, at(9, 2, 30)) is False
    assert market.missing_before(CODE, at(9, 4, 0)) is True
