"""Unit tests of the engine's parts: clocks, conditions, pricing paths, universe loaders."""

from __future__ import annotations

import datetime as dt
import gzip
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.broker.simulator import pricing
from apps.broker.simulator.clock import AcceleratedClock, ManualClock, replay_clock
from apps.broker.simulator.conditions import (
    ConditionError,
    ConditionSet,
    compile_formula,
    load_conditions,
    parse_conditions,
)
from apps.broker.simulator.universe import (
    builtin_universe,
    load_daily,
    load_master,
    load_minutes,
)
from krx import KST, Market, is_on_tick, price_limits

from .engine_helpers import ACCOUNT, at, make


# ------------------------------------------------------------------ clocks
def test_clocks() -> None:
    t0 = dt.datetime(2025, 6, 2, 9, 0, tzinfo=KST)
    manual = ManualClock(t0)
    assert manual.tick(dt.timedelta(seconds=5)) == t0 + dt.timedelta(seconds=5)
    wall = [100.0]
    fast = AcceleratedClock(t0, speed=60, monotonic=lambda: wall[0])
    wall[0] += 6.5 * 60  # 6.5 wall minutes at speed 60 = a whole 6.5-hour session
    assert fast.now() == t0 + dt.timedelta(hours=6, minutes=30)
    assert replay_clock(dt.date(2024, 1, 5)).now().date() == dt.date(2024, 1, 5)
    with pytest.raises(ValueError, match="aware"):
        ManualClock(dt.datetime(2025, 6, 2, 9, 0))


def test_exchange_uses_the_injected_clock() -> None:
    clock = ManualClock(at(9, 0))
    ex = make(at(9, 0), clock=clock)
    clock.tick(dt.timedelta(minutes=3))
    events = ex.advance()
    assert ex.now() == at(9, 3) and events


# ------------------------------------------------------------------ conditions
def test_formula_evaluator() -> None:
    fn = compile_formula("value_rank <= 20 and change_rate >= 3 or -price > max(1, abs(gap))")
    assert fn({"value_rank": 3, "change_rate": 3.5, "price": 1, "gap": -2})
    assert not fn({"value_rank": 30, "change_rate": 3.5, "price": 1, "gap": -2})
    assert compile_formula("1 < price <= 10")({"price": 10})


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("price > 1 and\n  nope < 3", "unknown field 'nope' at line 2, column 3"),
        ("__import__('os')", "only abs(), min() and max() may be called at line 1, column 1"),
        ("price.real > 1", "Attribute is not allowed in a formula at line 1, column 1"),
        ("price > 'x'", "constant 'x' is not a number at line 1, column 9"),
        ("price >> 2", "BinOp is not allowed"),
        ("price in (1, 2)", "comparison In is not allowed"),
        ("(lambda: 1)()", "only abs(), min() and max() may be called"),
        ("min(price) > 1", "min() takes at least two arguments at line 1, column 1"),
        ("abs(price, 2) > 1", "abs() takes one argument"),
        ("price >", "syntax error"),
    ],
)
def test_formula_errors_name_condition_and_position(formula: str, message: str) -> None:
    with pytest.raises(ConditionError) as exc:
        parse_conditions(
            {"conditions": [{"seq": "7", "name": "내 조건", "formula": formula}]}, "my.yaml"
        )
    assert str(exc.value).startswith("my.yaml: condition 7 (내 조건): ")
    assert message in str(exc.value)


def test_condition_file_validation(tmp_path) -> None:
    with pytest.raises(ConditionError, match="duplicate"):
        parse_conditions({"conditions": [{"seq": "1", "name": "a", "formula": "price > 0"}] * 2})
    with pytest.raises(ConditionError, match="top-level"):
        parse_conditions({"x": 1})
    bad = tmp_path / "c.yaml"
    bad.write_text("conditions: [", encoding="utf-8")
    with pytest.raises(ConditionError, match="invalid YAML"):
        load_conditions(bad)
    defaults = load_conditions()
    assert len(defaults) >= 4 and defaults[0].name.startswith("거래대금상위")


def test_condition_set_reports_insert_and_delete() -> None:
    cs = ConditionSet(
        parse_conditions({"conditions": [{"seq": "1", "name": "up", "formula": "change_rate > 0"}]})
    )
    assert cs.evaluate({"A": {"change_rate": 1}, "B": {"change_rate": -1}}) == [("1", "A", "I")]
    assert cs.evaluate({"A": {"change_rate": -1}, "B": {"change_rate": 2}}) == [
        ("1", "A", "D"),
        ("1", "B", "I"),
    ]


def test_custom_condition_file_drives_the_exchange(tmp_path) -> None:
    path = tmp_path / "conds.yaml"
    path.write_text(
        'conditions:\n  - seq: "5"\n    name: 전부\n    formula: volume > 0\n', encoding="utf-8"
    )
    ex = make(at(9, 0), conditions_path=path)
    assert [c.seq for c in ex.condition_list()] == ["5"]
    ex.advance(at(9, 1))
    assert set(ex.condition_members("5")) == {i.code for i in ex.instruments()}


# ------------------------------------------------------------------ pricing
ohlcv = st.tuples(
    st.integers(-29, 29), st.integers(-29, 29), st.integers(0, 10), st.integers(0, 10),
    st.integers(1, 5_000_000),
)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(
    base=st.integers(1_000, 900_000),
    moves=ohlcv,
    market=st.sampled_from([Market.KOSPI, Market.KOSDAQ]),
    seed=st.integers(0, 10),
)
def test_paths_follow_the_daily_bar_on_grid_inside_limits(
    base: int, moves: tuple[int, int, int, int, int], market: Market, seed: int
) -> None:
    day = dt.date(2025, 6, 2)
    lower, upper = price_limits(base, market, day)

    def px(pct: float) -> int:
        from krx import tick_round

        return min(max(tick_round(int(base * (1 + pct / 100)), market, day), lower), upper)

    o, c = px(moves[0]), px(moves[1])
    h = max(px(max(moves[0], moves[1]) + moves[2]), o, c)
    lo = min(px(min(moves[0], moves[1]) - moves[3]), o, c)
    path = pricing.path_from_daily("000000", market, day, base, (o, h, lo, c, moves[4]), seed)
    assert path.ohlcv() == (o, h, lo, c, moves[4]) or path.ohlcv()[4] == moves[4]
    assert path.open_price == o and path.close_price == c
    assert len(path.bars) == pricing.N_MINUTES
    rng = pricing.rng_for("t")
    for bar in path.bars:
        assert lo <= bar[2] <= min(bar[0], bar[3]) <= max(bar[0], bar[3]) <= bar[1] <= h
        for p in bar[:4]:
            assert is_on_tick(p, market, day)
        trades = pricing.minute_ticks(rng, bar, max(1, moves[4] // 380))
        assert sum(v for _, _, v in trades) == bar[4]
        assert all(bar[2] <= p <= bar[1] and v > 0 for _, p, v in trades)
        assert [t for t, _, _ in trades] == sorted(t for t, _, _ in trades)
    again = pricing.path_from_daily("000000", market, day, base, (o, h, lo, c, moves[4]), seed)
    assert again == path


def test_volume_profile_is_u_shaped() -> None:
    prof = pricing.volume_profile()
    assert abs(sum(prof) - 1) < 1e-9
    assert prof[0] > prof[190] < prof[-1]
    assert pricing.cumulative_profile()[-1] == pytest.approx(0.91)


# ------------------------------------------------------------------ universe and data modes
def test_builtin_universe() -> None:
    u = builtin_universe()
    assert 30 <= len(u) <= 60
    assert len({i.code for i in u}) == len(u)
    assert all(is_on_tick(i.prev_close, i.market, dt.date(2025, 6, 2)) for i in u)
    assert {i.market for i in u} == {Market.KOSPI, Market.KOSDAQ}


def test_master_loader_reads_columns_by_name(tmp_path) -> None:
    path = tmp_path / "master.csv"
    path.write_text(
        "\ufeff,Name,Code,Market,Industry,ListingDate,SettleMonth\n"
        "0,삼성전자,005930,KOSPI,전자,1975-06-11,12월\n"
        "1,어떤회사,123450,KOSDAQ GLOBAL,기계,2010-01-04,03월\n"
        "2,코넥스사,999990,KONEX,기타,2015-01-02,12월\n",
        encoding="utf-8",
    )
    rows = load_master(path)
    assert [(i.code, i.market, i.settle_month) for i in rows] == [
        ("005930", Market.KOSPI, "12"),
        ("123450", Market.KOSDAQ, "03"),
    ]
    assert rows[0].prev_close == 60_000 and rows[1].prev_close > 0
    ex = make(at(9, 0), universe=path, codes=())
    assert [i.code for i in ex.instruments()] == ["005930", "123450"]


def _write_daily(path) -> None:
    lines = [
        "Rank,Date,Code,Name,Market,Open,High,Low,Close,Volume,Amount,Changes,Stocks,ChagesRatio",
        "1,2025-01-02,005930,삼성전자,KOSPI,52700.0,53600.0,52300.0,53400.0,16630538.0,878413120092.0,200.0,5969782550,0.38",
        "1,2025-01-03,005930,삼성전자,KOSPI,53500.0,55000.0,53300.0,54800.0,20000000.0,1090000000000.0,1400.0,5969782550,2.62",
    ]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def test_daily_mode_follows_the_real_day(tmp_path) -> None:
    path = tmp_path / "marcap-2025.csv.gz"
    _write_daily(path)
    rows = load_daily(path)
    assert rows[dt.date(2025, 1, 3)]["005930"].prev_close == 53_400
    day = dt.date(2025, 1, 3)
    ex = make(
        dt.datetime(2025, 1, 3, 9, 0, tzinfo=KST),
        pricing="daily",
        daily_path=path,
        codes=("005930",),
    )
    ex.advance(dt.datetime(2025, 1, 3, 15, 31, tzinfo=KST))
    q = ex.quote("005930")
    assert (q.base_price, q.open, q.high, q.low, q.price) == (
        53_400,
        53_500,
        55_000,
        53_300,
        54_800,
    )
    assert q.volume == 20_000_000
    hist = ex.daily_bars("005930", limit=2)
    assert hist[0].date == day and hist[1].date == dt.date(2025, 1, 2) and hist[1].close == 53_400


def test_replay_mode_replays_minute_bars(tmp_path) -> None:
    path = tmp_path / "005930_1min.csv"
    rows = ["code,date,time_hhmm,open,high,low,close,volume"]
    price = 2_480_000
    t = dt.datetime(2018, 1, 16, 9, 1)
    for _ in range(380):
        rows.append(
            f"005930,2018-01-16,{t:%H%M},{price},{price + 1000},{price - 1000},{price + 1000},300"
        )
        price += 1000 if t.minute % 2 else -1000
        t += dt.timedelta(minutes=1)
    rows.append(f"005930,2018-01-16,1530,{price},{price},{price},{price},5000")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert len(load_minutes(path)[("005930", dt.date(2018, 1, 16))]) == 381
    ex = make(
        dt.datetime(2018, 1, 16, 8, 30, tzinfo=KST), pricing="replay", minute_path=path, codes=()
    )
    assert [i.code for i in ex.instruments()] == ["005930"]
    q0 = ex.quote("005930")
    ex.place_order(ACCOUNT, "buy", "005930", 1, q0.upper_limit)
    events = ex.advance(dt.datetime(2018, 1, 16, 15, 31, tzinfo=KST))
    q = ex.quote("005930")
    assert q.open == 2_480_000 and q.price == price
    assert q.volume == 380 * 300 + 5000
    assert len(ex.fills(ACCOUNT)) == 1 and events


# ------------------------------------------------------------------ VI and matching rules
def test_vi_trigger_thresholds() -> None:
    from apps.broker.simulator.vi import vi_trigger

    assert vi_trigger(11_000, 10_000, 10_900, kospi200=False) == "static"  # +10 % from the open
    assert vi_trigger(10_990, 10_000, 10_900, kospi200=False) is None
    assert vi_trigger(10_600, 10_500, 10_000, kospi200=False) == "dynamic"  # +6 % in one trade
    assert vi_trigger(10_300, 10_500, 10_000, kospi200=True) == "dynamic"  # 3 % for KOSPI200
    assert vi_trigger(10_290, 10_500, 10_000, kospi200=True) is None
    assert vi_trigger(9_000, 10_000, 9_600, kospi200=False) == "both"


def test_matching_rules() -> None:
    from apps.broker.simulator.accounts import Order
    from apps.broker.simulator.dto import OrderAction, OrderType, Side
    from apps.broker.simulator.matching import eligible, priority, synth_levels, walk

    def order(side: Side, price: int, seq: int, kind: OrderType = OrderType.LIMIT) -> Order:
        return Order(
            "1", f"{seq:07d}", None, f"{seq:07d}", "005930", "x", Market.KOSPI, side,
            OrderAction.NEW, kind, 10, price, at(10, 0), seq, remaining=10,
        )  # fmt: skip

    buy = order(Side.BUY, 60_000, 1)
    assert eligible(buy, 60_000) and eligible(buy, 59_900) and not eligible(buy, 60_100)
    sell = order(Side.SELL, 60_000, 2)
    assert eligible(sell, 60_100) and not eligible(sell, 59_900)
    market = order(Side.BUY, 0, 3, OrderType.MARKET)
    better = order(Side.BUY, 60_100, 4)
    assert sorted([buy, better, market], key=priority) == [market, better, buy]
    day = dt.date(2025, 6, 2)
    levels = synth_levels(
        60_000, Side.BUY, (42_000, 60_200), 100, pricing.rng_for(1), Market.KOSPI, day
    )
    assert [p for p, _ in levels] == [60_000, 60_100, 60_200]  # stops at the upper limit
    taken = walk(levels, buy, 10_000, {60_000: levels[0][1] - 1})
    assert taken == [(60_000, 1)]  # one share left at the limit, nothing beyond it
    assert sum(q for _, q in walk(levels, market, 10_000, {})) == sum(q for _, q in levels)


@given(cash=st.integers(0, 10**11), price=st.integers(1, 2_000_000))
def test_max_buy_qty_is_the_largest_affordable(cash: int, price: int) -> None:
    from apps.broker.simulator.accounts import Account

    acct = Account("1", cash, cash, Decimal("0.00015"))
    n = acct.max_buy_qty(price)
    assert acct.buy_hold(n, price) <= cash
    assert acct.buy_hold(n + 1, price) > cash


def test_daily_mode_zero_volume_row_is_a_halt(tmp_path) -> None:
    path = tmp_path / "halt.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("Date,Code,Name,Market,Open,High,Low,Close,Volume,Amount,Changes,Stocks\n")
        fh.write("2025-01-03,005930,삼성전자,KOSPI,0,0,0,53400,0,0,0,5969782550\n")
    ex = make(
        dt.datetime(2025, 1, 3, 9, 0, tzinfo=KST),
        pricing="daily",
        daily_path=path,
        codes=("005930",),
    )
    events = ex.advance(dt.datetime(2025, 1, 3, 15, 31, tzinfo=KST))
    q = ex.quote("005930")
    assert (q.base_price, q.volume, q.price) == (53_400, 0, 53_400)
    assert not [e for e in events if e.__class__.__name__ == "Tick"]
