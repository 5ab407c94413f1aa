"""The pure part of tuning: ranges → parameter sets (grid, seeded random), validation naming the field,
walk-forward windows, scores, the per-window choice and the out-of-sample headline."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from apps.backtests import tuning
from apps.backtests.tuning import Scored, TuningInvalid
from apps.strategy.engine.ma_cross import MaCross
from apps.strategy.engine.params import Param, Schema

SCHEMA = MaCross.schema
MIXED = Schema(
    (
        Param("n", "int", 5, "n", "n", min=1, max=50),
        Param("rate", "decimal", Decimal("0.5"), "r", "r", min=Decimal(0), max=Decimal(2)),
        Param("on", "bool", True, "o", "o"),
        Param("codes", "str_list", (), "c", "c"),
    )
)


def expand(
    ranges, *, schema=SCHEMA, method="grid", trials=None, seed=None, windows=1, max_trials=500
):
    return tuning.expand(schema, ranges, {}, method=method, trials=trials, seed=seed,
                         windows=windows, max_trials=max_trials)  # fmt: skip


def test_grid_is_every_valid_combination_and_skips_what_the_schema_refuses() -> None:
    sets, skipped = expand({"fast": {"min": 3, "max": 5}, "slow": {"values": [4, 10, 20]}})
    pairs = [(s["fast"], s["slow"]) for s in sets]
    assert pairs == [(3, 4), (3, 10), (3, 20), (4, 10), (4, 20), (5, 10), (5, 20)]
    assert skipped == 2  # slow 4 is not above fast 4 or 5


def test_grid_of_decimals_and_bools() -> None:
    sets, _ = expand({"rate": {"min": "0.5", "max": "1.0", "step": "0.25"}, "on": {"values": [True, False]}},
                     schema=MIXED)  # fmt: skip
    assert [(s["rate"], s["on"]) for s in sets] == [
        ("0.5", True), ("0.5", False), ("0.75", True), ("0.75", False), ("1", True), ("1", False),
    ]  # fmt: skip


def test_random_is_seeded_and_reproducible() -> None:
    ranges = {"fast": {"min": 1, "max": 30}, "slow": {"min": 31, "max": 100}}
    first, _ = expand(ranges, method="random", trials=12, seed=7)
    again, _ = expand(ranges, method="random", trials=12, seed=7)
    other, _ = expand(ranges, method="random", trials=12, seed=8)
    assert first == again and first != other
    assert len(first) == 12 and len({(s["fast"], s["slow"]) for s in first}) == 12  # no repeats
    assert all(1 <= s["fast"] <= 30 and 31 <= s["slow"] <= 100 for s in first)


def test_random_asking_more_than_the_grid_holds_gets_the_whole_grid() -> None:
    sets, _ = expand({"fast": {"values": [2, 3]}}, method="random", trials=10, seed=1)
    assert sorted(s["fast"] for s in sets) == [2, 3]


@pytest.mark.parametrize(
    ("ranges", "kw", "field"),
    [
        ({"nope": {"min": 1, "max": 2}}, {}, "nope"),
        ({"fast": {"min": 5, "max": 3}}, {}, "fast"),
        ({"fast": {"min": 0, "max": 3}}, {}, "fast"),  # the schema's own minimum is 1
        ({"fast": {"min": 1, "max": 3, "step": 0}}, {}, "fast"),
        ({"fast": {"min": "a", "max": 3}}, {}, "fast"),
        ({"fast": {"min": 1.5, "max": 3}}, {}, "fast"),
        ({"fast": {"values": []}}, {}, "fast"),
        ({"fast": [1, 2]}, {}, "fast"),
        ({"fast": {"min": 1, "max": 3, "values": [1]}}, {}, "fast"),
        ({}, {}, "ranges"),
        (
            {"fast": {"min": 1, "max": 30}, "slow": {"min": 31, "max": 100}},
            {},
            "ranges",
        ),  # 2,100 sets
        ({"fast": {"min": 1, "max": 30}}, {"method": "random", "trials": 600}, "trials"),
        (
            {"fast": {"min": 1, "max": 30}},
            {"method": "random", "trials": 300, "windows": 2},
            "trials",
        ),
        ({"fast": {"min": 1, "max": 30}}, {"method": "random", "trials": 0}, "trials"),
        ({"fast": {"min": 1, "max": 30}}, {"method": "bayes"}, "method"),
        ({"fast": {"min": 10, "max": 20}, "slow": {"values": [5, 6]}}, {}, "ranges"),  # none valid
    ],
)
def test_bad_ranges_name_the_field(ranges, kw, field) -> None:
    with pytest.raises(TuningInvalid) as caught:
        expand(ranges, **kw)
    assert field in caught.value.errors, caught.value.errors


@pytest.mark.parametrize(
    ("ranges", "field"),
    [
        ({"rate": {"min": 0, "max": 1}}, "rate"),  # a decimal needs a step
        ({"rate": {"min": 0, "max": 3, "step": 1}}, "rate"),  # above the schema's maximum
        ({"on": {"min": 0, "max": 1}}, "on"),
        ({"codes": {"values": [["A"]]}}, "codes"),
    ],
)
def test_bad_ranges_of_other_kinds(ranges, field) -> None:
    with pytest.raises(TuningInvalid) as caught:
        expand(ranges, schema=MIXED)
    assert list(caught.value.errors) == [field]


DAYS = [dt.date(2025, 3, 3) + dt.timedelta(days=i) for i in range(10)]


def test_walk_forward_windows_and_their_boundaries() -> None:
    windows = tuning.walk_forward(DAYS, 3, 2, 2)
    assert [(w.in_sample, w.out_sample) for w in windows] == [
        ((DAYS[0], DAYS[2]), (DAYS[3], DAYS[4])),
        ((DAYS[2], DAYS[4]), (DAYS[5], DAYS[6])),
        ((DAYS[4], DAYS[6]), (DAYS[7], DAYS[8])),
    ]  # DAYS[9] would need a window of its own: left out, never half a window
    for w in windows:  # out-of-sample always strictly after in-sample
        assert w.in_sample[1] < w.out_sample[0]
    oos = [(w.out_sample[0], w.out_sample[1]) for w in windows]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(oos))  # never overlapping
    assert [w.index for w in tuning.walk_forward(DAYS, 5, 5)] == [
        0
    ]  # step defaults to the OOS length
    assert len(tuning.walk_forward(DAYS, 1, 1)) == 9


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((11, 1, None), "in_sample_days"),
        ((0, 1, None), "in_sample_days"),
        ((3, 0, None), "out_sample_days"),
        ((3, 2, 1), "step_days"),
    ],
)
def test_walk_forward_refusals_name_the_field(args, field) -> None:
    with pytest.raises(TuningInvalid) as caught:
        tuning.walk_forward(DAYS, *args)
    assert field in caught.value.errors


def result(ret: str, pnl: int, gp: int = 0, gl: int = 0, equity=(), trades: int = 1) -> dict:
    return {"days": 1, "return_pct": ret, "total_pnl": pnl, "gross_profit": gp, "gross_loss": gl,
            "profit_factor": str(Decimal(gp) / gl) if gl else None, "total_trades": trades,
            "wins": 1 if pnl > 0 else 0, "start_equity": 1000, "daily_equity": list(equity),
            "sharpe": None}  # fmt: skip


def test_scores_by_objective() -> None:
    r = result("1.5", 15, gp=20, gl=5)
    assert tuning.score(r, "return_pct") == Decimal("1.5")
    assert tuning.score(r, "total_pnl") == 15
    assert tuning.score(r, "profit_factor") == 4
    assert tuning.score(result("1", 10, gp=10), "profit_factor") == tuning.PROFIT_FACTOR_CAP
    assert tuning.score(result("0", 0, trades=0), "profit_factor") is None
    assert tuning.score(r, "sharpe") is None
    assert tuning.score({}, "return_pct") is None


def test_the_choice_is_in_sample_and_the_headline_out_of_sample() -> None:
    """The set that wins in-sample is chosen even when another did better out of sample, and the
    headline adds up the chosen sets' out-of-sample results only."""
    trials = [
        Scored(0, 0, {"fast": 3}, Decimal(9), result("-2", -20, gl=20, equity=[990, 980])),
        Scored(1, 0, {"fast": 4}, Decimal(1), result("5", 50, gp=50, equity=[1020, 1050])),
        Scored(0, 1, {"fast": 3}, Decimal(2), result("1", 10, gp=10, equity=[1005, 1010])),
        Scored(1, 1, {"fast": 4}, Decimal(2), result("3", 30, gp=30, equity=[1010, 1030])),  # tie
        Scored(2, 1, {"fast": 5}, None, result("9", 90)),  # no in-sample score: never chosen
    ]
    chosen = tuning.choose(trials)
    assert {w: c.index for w, c in chosen.items()} == {0: 0, 1: 0}  # a tie goes to the earlier set
    head = tuning.headline([c.oos_metrics for c in chosen.values()], "return_pct")
    assert head["total_pnl"] == -10 and head["windows"] == 2
    assert head["return_pct"] == "-1.0200"  # compounded: 0.98 × 1.01 − 1
    assert head["value"] == head["return_pct"]
    assert head["profit_factor"] == "0.5000" and head["total_trades"] == 2
    assert head["sharpe"] is not None  # over the four chained daily returns
    assert tuning.headline([], "return_pct")["value"] is None
