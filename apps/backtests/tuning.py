"""Parameter tuning's pure part (no Django, no I/O): declared ranges → parameter sets, walk-forward
windows, objective scores, the choice per window and the out-of-sample headline.

- **Ranges** are declared per parameter of the strategy's schema (`engine.params.Schema`):
  `{"min": 3, "max": 10, "step": 1}` (an int's step defaults to 1; a decimal needs one) or
  `{"values": [10, 20, 30]}` (bools: `{"values": [true, false]}`). Every value goes through the
  parameter's own `coerce` (its type and its min/max), so a range the strategy would refuse is an error
  naming that parameter. Lists of strings are not tunable.
- **Grid** is every combination; **random** is `trials` combinations of the same grid drawn without
  replacement by `random.Random(seed)` — the same seed gives the same sets. A combination the schema's
  cross-field rule refuses (ma_cross: slow ≤ fast) is skipped and counted, not an error, unless none is left.
- **Walk-forward**: the range's trading days are cut into windows of `in_sample` days followed by
  `out_sample` days, the next window `step` days later (`step` ≥ `out_sample`, so out-of-sample stretches
  never overlap and their results can be added up). A trial is one parameter set on one window: it is
  scored on its in-sample days and, separately (fresh cash), on its out-of-sample days.
- **Choice**: per window the parameter set with the best *in-sample* score (ties: the earlier set); its
  *out-of-sample* result is what the window reports. The headline aggregates those out-of-sample
  results over the windows (P&L summed, returns compounded, profit factor from the summed gross
  profit/loss, the Sharpe-like ratio over the chained daily returns) — never an in-sample number.
  The parameters to apply are the last window's choice (the most recent in-sample tuning).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.reports import metrics as m
from apps.strategy.engine.params import Param, ParamsInvalid, Schema

__all__ = [
    "METHODS",
    "OBJECTIVES",
    "TuningInvalid",
    "Window",
    "choose",
    "expand",
    "headline",
    "parse_range_lines",
    "score",
    "walk_forward",
]

METHODS = ("grid", "random")
OBJECTIVES = ("return_pct", "total_pnl", "profit_factor", "sharpe")
# A profit factor without a losing trade has no finite value; as a score it counts as this much.
PROFIT_FACTOR_CAP = Decimal(1_000_000)
_NUMBER_MAX = Decimal(10**15)  # bounds of a declared range (no strategy parameter goes near it)
_RANDOM_SHUFFLE_MAX = 200_000  # grids up to this size are shuffled whole; larger ones sampled


class TuningInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid tuning run: " + ", ".join(sorted(errors)))
        self.errors = errors


@dataclass(frozen=True)
class Window:
    index: int
    in_sample: tuple[dt.date, dt.date]  # first and last trading day
    out_sample: tuple[dt.date, dt.date]

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "is_from": self.in_sample[0].isoformat(),
            "is_to": self.in_sample[1].isoformat(),
            "oos_from": self.out_sample[0].isoformat(),
            "oos_to": self.out_sample[1].isoformat(),
        }


# --------------------------------------------------------------------------- ranges
def _number(raw: Any, param: Param) -> Any:
    if isinstance(raw, bool):
        raise ValueError("숫자여야 합니다 (must be a number)")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError("숫자여야 합니다 (must be a number)") from None
    if not value.is_finite() or abs(value) > _NUMBER_MAX:
        raise ValueError("유한한 숫자여야 합니다 (must be a finite number)")
    if param.kind == "int":
        if value != value.to_integral_value():
            raise ValueError("정수여야 합니다 (must be an integer)")
        return int(value)
    return value


def axis_size(param: Param, spec: Any) -> int:
    """How many values `spec` declares for `param` (checked, nothing materialised)."""
    if not isinstance(spec, Mapping):
        raise ValueError(
            "{min, max, step} 또는 {values} 객체여야 합니다 (must be {min, max, step} or {values})"
        )
    if param.kind == "str_list":
        raise ValueError("목록 파라미터는 튜닝할 수 없습니다 (a list parameter cannot be tuned)")
    unknown = set(spec) - {"min", "max", "step", "values"}
    if unknown:
        raise ValueError(f"알 수 없는 키: {', '.join(sorted(map(str, unknown)))} (unknown keys)")
    if "values" in spec:
        if set(spec) != {"values"}:
            raise ValueError("values와 min/max를 함께 쓸 수 없습니다 (values or min/max, not both)")
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ValueError(
                "values는 비어 있지 않은 목록이어야 합니다 (values must be a non-empty list)"
            )
        return len(values)
    if param.kind == "bool":
        raise ValueError("참/거짓 파라미터는 values로 지정합니다 (give a bool its values)")
    if "min" not in spec or "max" not in spec:
        raise ValueError("min과 max가 필요합니다 (min and max are required)")
    low, high = _number(spec["min"], param), _number(spec["max"], param)
    if high < low:
        raise ValueError("max가 min보다 작습니다 (max is below min)")
    if "step" in spec:
        step = _number(spec["step"], param)
    elif param.kind == "int":
        step = 1
    else:
        raise ValueError("소수 파라미터는 step이 필요합니다 (a decimal range needs a step)")
    if step <= 0:
        raise ValueError("step은 0보다 커야 합니다 (step must be positive)")
    return int((high - low) // step) + 1


def axis_values(param: Param, spec: Mapping[str, Any]) -> list[Any]:
    """The typed values of one declared range (each through the parameter's own checks)."""
    size = axis_size(param, spec)
    if "values" in spec:
        raw = list(spec["values"])
    else:
        low = _number(spec["min"], param)
        step = _number(spec["step"], param) if "step" in spec else 1
        raw = [low + step * i for i in range(size)]
    return list(dict.fromkeys(param.coerce(v) for v in raw))


def _decode(index: int, axes: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    """The combination at `index` of the grid (the last axis varies fastest, like itertools.product)."""
    out = []
    for values in reversed(axes):
        index, rest = divmod(index, len(values))
        out.append(values[rest])
    return tuple(reversed(out))


def _random_order(total: int, rng: random.Random) -> Any:
    if total <= _RANDOM_SHUFFLE_MAX:
        yield from rng.sample(range(total), total)
        return
    seen: set[int] = set()
    while len(seen) < total:
        i = rng.randrange(total)
        if i not in seen:
            seen.add(i)
            yield i


def expand(
    schema: Schema,
    ranges: Mapping[str, Any],
    base: Mapping[str, Any],
    *,
    method: str,
    trials: int | None,
    seed: int | None,
    windows: int,
    max_trials: int,
) -> tuple[list[dict[str, Any]], int]:
    """The parameter sets to try (stored form, `schema.to_json`) and how many combinations the
    schema's cross-field rule skipped. Raises `TuningInvalid` naming the field (a parameter by its
    name; `ranges`, `method`, `trials`)."""
    errors: dict[str, list[str]] = {}
    if method not in METHODS:
        raise TuningInvalid({"method": [f"one of {', '.join(METHODS)}"]})
    if not isinstance(ranges, Mapping) or not ranges:
        raise TuningInvalid(
            {"ranges": ["튜닝할 파라미터가 필요합니다 (declare at least one range)"]}
        )
    sizes: dict[str, int] = {}
    for name, spec in ranges.items():
        param = schema.by_name.get(name) if isinstance(name, str) else None
        if param is None:
            errors[str(name)] = ["알 수 없는 파라미터입니다 (unknown parameter)"]
            continue
        try:
            sizes[name] = axis_size(param, spec)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise TuningInvalid(errors)
    total = math.prod(sizes.values())
    windows = max(windows, 1)
    if method == "grid":
        if total * windows > max_trials:
            raise TuningInvalid(
                {"ranges": [f"시도 {total * windows:,}회: 최대 {max_trials:,}회 "
                            f"({total:,} sets × {windows} windows; at most {max_trials} trials)"]}
            )  # fmt: skip
        wanted = total
    else:
        if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
            raise TuningInvalid({"trials": ["1 이상의 정수여야 합니다 (a positive integer)"]})
        if trials * windows > max_trials:
            raise TuningInvalid(
                {"trials": [f"시도 {trials * windows:,}회: 최대 {max_trials:,}회 "
                            f"({trials} sets × {windows} windows; at most {max_trials} trials)"]}
            )  # fmt: skip
        wanted = trials
    axes: list[list[Any]] = []
    for name in sizes:
        try:
            axes.append(axis_values(schema.by_name[name], ranges[name]))
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise TuningInvalid(errors)
    names = list(sizes)
    total = math.prod(len(a) for a in axes)  # duplicates folded
    if method == "grid":
        order: Any = range(total)
    else:
        order = _random_order(total, random.Random(seed))
    found: list[dict[str, Any]] = []
    skipped = 0
    first_refusal: dict[str, list[str]] = {}
    for index in order:
        combo = dict(zip(names, _decode(index, axes), strict=True))
        try:
            found.append(schema.to_json(schema.validate(combo, base=base)))
        except ParamsInvalid as exc:
            skipped += 1
            first_refusal = first_refusal or exc.errors
            continue
        if len(found) >= wanted:
            break
    if not found:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in first_refusal.items())
        raise TuningInvalid(
            {"ranges": [f"유효한 조합이 없습니다 (no valid parameter set): {detail}"]}
        )
    return found, skipped


def parse_range_lines(text: str) -> tuple[dict[str, Any], list[str]]:
    """Ranges written one a line (the page's form, `manage.py tune --range`): `fast=3..10` (min..max),
    `rate=0.5..2:0.25` (with a step), `slow=10,20,30` (values); returns them and the lines that are none
    of these."""
    ranges: dict[str, Any] = {}
    bad: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            bad.append(line.strip())
            continue
        if ".." in value:
            span, _sep, step = value.partition(":")
            low, _dots, high = span.partition("..")
            spec: dict[str, Any] = {"min": low.strip(), "max": high.strip()}
            if step.strip():
                spec["step"] = step.strip()
        else:
            spec = {"values": [v.strip() for v in value.split(",") if v.strip()]}
        ranges[key] = spec
    return ranges, bad


# --------------------------------------------------------------------------- windows
def walk_forward(
    days: Sequence[dt.date], in_sample: int, out_sample: int, step: int | None = None
) -> list[Window]:
    """The walk-forward windows over `days` (trading days in order); see the module docstring."""
    errors: dict[str, list[str]] = {}
    if in_sample < 1:
        errors["in_sample_days"] = ["1 이상이어야 합니다 (must be at least 1)"]
    if out_sample < 1:
        errors["out_sample_days"] = ["1 이상이어야 합니다 (must be at least 1)"]
    step = out_sample if step is None else step
    if not errors and step < out_sample:
        errors["step_days"] = [
            f"표본 외 기간({out_sample}일) 이상이어야 합니다 "
            f"(must be at least the out-of-sample length, {out_sample}: they must not overlap)"
        ]
    if errors:
        raise TuningInvalid(errors)
    out: list[Window] = []
    start = 0
    while start + in_sample + out_sample <= len(days):
        is_days = days[start : start + in_sample]
        oos_days = days[start + in_sample : start + in_sample + out_sample]
        out.append(Window(len(out), (is_days[0], is_days[-1]), (oos_days[0], oos_days[-1])))
        start += step
    if not out:
        raise TuningInvalid(
            {"in_sample_days": [
                f"기간의 거래일 {len(days)}일: 창 하나에 {in_sample + out_sample}일이 필요합니다 "
                f"(the range has {len(days)} trading days; one window needs {in_sample + out_sample})"
            ]}
        )  # fmt: skip
    return out


# --------------------------------------------------------------------------- scores
def score(metrics: Mapping[str, Any], objective: str) -> Decimal | None:
    """The objective's value of one result (`services.metrics_of`'s JSON); None ranks last."""
    if not metrics or not metrics.get("days"):
        return None
    if objective == "return_pct":
        return Decimal(metrics["return_pct"])
    if objective == "total_pnl":
        return Decimal(int(metrics["total_pnl"]))
    if objective == "profit_factor":
        if metrics.get("profit_factor") is not None:
            return Decimal(metrics["profit_factor"])
        return PROFIT_FACTOR_CAP if metrics.get("gross_profit") else None
    if objective == "sharpe":
        return Decimal(metrics["sharpe"]) if metrics.get("sharpe") is not None else None
    raise ValueError(f"unknown objective {objective!r}")


@dataclass(frozen=True)
class Scored:
    """A finished trial as the choice sees it."""

    index: int  # the parameter set's position (ties go to the earlier one)
    window: int
    params: Mapping[str, Any]
    is_score: Decimal | None
    oos_metrics: Mapping[str, Any]


def choose(trials: Sequence[Scored]) -> dict[int, Scored]:
    """Per window, the trial with the best in-sample score (a window without a scored trial: none)."""
    best: dict[int, Scored] = {}
    for t in trials:
        if t.is_score is None:
            continue
        held = best.get(t.window)
        if held is None or (t.is_score, -t.index) > (held.is_score, -held.index):  # type: ignore[operator]
            best[t.window] = t
    return dict(sorted(best.items()))


def _chained_returns(results: Sequence[Mapping[str, Any]]) -> list[Decimal]:
    out: list[Decimal] = []
    for r in results:
        start = int(r.get("start_equity") or 0)
        out += m.period_returns([start, *[int(v) for v in r.get("daily_equity") or []]])
    return out


def headline(results: Sequence[Mapping[str, Any]], objective: str) -> dict[str, Any]:
    """The out-of-sample figures of the chosen trials added up over the windows."""
    total_pnl = sum(int(r.get("total_pnl") or 0) for r in results)
    trades = sum(int(r.get("total_trades") or 0) for r in results)
    wins = sum(int(r.get("wins") or 0) for r in results)
    gross_profit = sum(int(r.get("gross_profit") or 0) for r in results)
    gross_loss = sum(int(r.get("gross_loss") or 0) for r in results)
    growth = Decimal(1)
    for r in results:
        growth *= 1 + Decimal(r.get("return_pct") or 0) / 100
    sharpe = m.sharpe_ratio(_chained_returns(results))
    pf = m.q(Decimal(gross_profit) / gross_loss) if gross_loss else None
    out: dict[str, Any] = {
        "objective": objective,
        "windows": len(results),
        "return_pct": str(m.q((growth - 1) * 100)),
        "total_pnl": total_pnl,
        "total_trades": trades,
        "wins": wins,
        "win_rate": str(m.q(Decimal(wins) / trades)) if trades else "0",
        "profit_factor": None if pf is None else str(pf),
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "sharpe": None if sharpe is None else str(sharpe),
    }
    if not results:
        value = None
    elif objective == "profit_factor" and pf is None:
        value = str(PROFIT_FACTOR_CAP) if gross_profit else None
    else:
        value = out[objective] if objective != "total_pnl" else str(total_pnl)
    out["value"] = value
    return out
