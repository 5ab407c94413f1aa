"""Backtest runs side by side (`/backtests/compare/?ids=1&ids=2`): each run's parameters, data range and
metrics in one table, the best value of each metric marked, and their equity curves on one chart as the
return on each run's own starting equity (runs with different cash compare).

`compare_runs` is pure over the stored runs (the page and its tests use it); it refuses clearly what it
cannot compare: fewer than two or more than `MAX_RUNS` ids, ids that are not numbers, unknown runs, runs
not finished."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from .models import BacktestRun, RunStatus
from .serializers import equity_series

MAX_RUNS = 6
MONEY = frozenset({"total_pnl", "max_drawdown_krw", "start_equity", "final_equity"})

# (metric key, label, which is better: "high" / "low" / None for no ranking)
METRICS: list[tuple[str, Any, str | None]] = [
    ("return_pct", _("수익률(%)"), "high"),
    ("total_pnl", _("총 손익"), "high"),
    ("total_trades", _("총 거래 수"), None),
    ("win_rate", _("승률(%)"), "high"),
    ("avg_return_pct", _("평균 수익률(%)"), "high"),
    ("profit_factor", _("손익비"), "high"),
    ("max_drawdown_pct", _("최대 낙폭(%)"), "low"),
    ("max_drawdown_krw", _("최대 낙폭(원)"), "low"),
    ("exposure", _("노출도"), None),
    ("start_equity", _("시작 평가액"), None),
    ("final_equity", _("최종 평가액"), None),
]


class CompareInvalid(ValueError):
    """The ids cannot be compared; the message says why (shown on the page, 400)."""


@dataclass(frozen=True)
class MetricRow:
    key: str
    label: Any
    values: list[Any]
    best: list[bool]

    @property
    def cells(self) -> list[tuple[Any, bool]]:
        return list(zip(self.values, self.best, strict=True))

    @property
    def money(self) -> bool:
        return self.key in MONEY


@dataclass(frozen=True)
class Comparison:
    runs: list[BacktestRun]
    params: list[tuple[str, list[Any]]]  # every parameter any run set, with each run's value
    metrics: list[MetricRow]
    curves: list[dict[str, Any]]  # per run: {"id", "label", "points": [{"time", "return_pct"}]}


def parse_ids(raw: list[str]) -> list[int]:
    ids: list[int] = []
    for item in raw:
        for part in str(item).replace(",", " ").split():
            if not part.isdigit():
                raise CompareInvalid(_("실행 번호는 숫자여야 합니다: %(value)s") % {"value": part})
            if int(part) not in ids:
                ids.append(int(part))
    if not 2 <= len(ids) <= MAX_RUNS:
        raise CompareInvalid(
            _("비교할 실행을 2개 이상 %(max)s개 이하로 고르세요.") % {"max": MAX_RUNS}
        )
    return ids


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _best(values: list[Any], better: str | None) -> list[bool]:
    numbers = [_number(v) for v in values]
    known = [n for n in numbers if n is not None]
    if better is None or len(known) < 2 or len(set(known)) == 1:
        return [False] * len(values)
    target = max(known) if better == "high" else min(known)
    return [n == target for n in numbers]


def _curve(run: BacktestRun) -> list[dict[str, Any]]:
    series = equity_series(run)
    start = int((run.metrics or {}).get("start_equity") or (series[0]["equity"] if series else 0))
    if not start:
        return []
    return [
        {
            "time": str(p["time"])[:10],
            "return_pct": str(
                (Decimal(p["equity"] - start) * 100 / start).quantize(Decimal("0.01"))
            ),
        }
        for p in series
    ]


def compare_runs(ids: list[int]) -> Comparison:
    found = {r.pk: r for r in BacktestRun.objects.filter(pk__in=ids).select_related("created_by")}
    missing = [i for i in ids if i not in found]
    if missing:
        raise CompareInvalid(
            _("없는 실행입니다: %(ids)s") % {"ids": ", ".join(f"#{i}" for i in missing)}
        )
    runs = [found[i] for i in ids]
    unfinished = [r for r in runs if r.status != RunStatus.DONE]
    if unfinished:
        raise CompareInvalid(
            _("끝난(완료) 실행만 비교할 수 있습니다: %(ids)s")
            % {"ids": ", ".join(f"#{r.pk} ({r.get_status_display()})" for r in unfinished)}
        )
    keys = sorted({k for r in runs for k in (r.params or {})})
    params = [(k, [(r.params or {}).get(k) for r in runs]) for k in keys]
    metrics = []
    for key, label, better in METRICS:
        values = [(r.metrics or {}).get(key) for r in runs]
        metrics.append(MetricRow(key, label, values, _best(values, better)))
    curves = [{"id": r.pk, "label": f"#{r.pk} {r.strategy}", "points": _curve(r)} for r in runs]
    return Comparison(runs, params, metrics, curves)
