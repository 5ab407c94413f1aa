"""Reads of parameter tuning: progress counted from the trial rows (one query for a whole list), the
results table and the heat map of two parameters.

The heat map is a grid of the two chosen parameters' values; each cell is the mean score (in-sample or
out-of-sample, the run's objective) of the finished trials with those two values, over the windows and
the other parameters' values; its colour runs from red (the lowest cell) to green (the highest).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Q, QuerySet

from .models import TuningRun, TuningTrial

__all__ = ["heatmap", "progress_from", "tuned_names", "with_progress"]

STATUSES = ("queued", "running", "done", "cancelled", "failed")


def with_progress(qs: QuerySet[TuningRun]) -> QuerySet[TuningRun]:
    """The runs with their trial counts by status (`n_<status>`), in the one query."""
    return qs.annotate(**{f"n_{s}": Count("trials", filter=Q(trials__status=s)) for s in STATUSES})


def progress_from(run: TuningRun) -> dict[str, int]:
    """Trials by status and the progress (finished / total, percent), from `with_progress`'s counts
    (or one query when the run was not loaded through it)."""
    if not hasattr(run, "n_queued"):
        run = with_progress(TuningRun.objects.filter(pk=run.pk)).get()
    counts = {s: int(getattr(run, f"n_{s}")) for s in STATUSES}
    total = sum(counts.values())
    finished = counts["done"] + counts["cancelled"] + counts["failed"]
    return {**counts, "total": total, "finished": finished,
            "progress": finished * 100 // total if total else 100}  # fmt: skip


def tuned_names(run: TuningRun) -> list[str]:
    return [str(name) for name in (run.ranges or {})]


def _order(value: Any) -> tuple[int, Any]:
    try:
        return (0, Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return (1, str(value))


def _colour(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    if value is None or low is None or high is None:
        return "#e5e7eb"
    share = (value - low) / (high - low) if high > low else Decimal(1)
    return f"hsl({int(share * 120)}, 70%, 72%)"


def heatmap(
    run: TuningRun, x: str, y: str, sample: str = "is", trials: Iterable[TuningTrial] | None = None
) -> dict[str, Any]:
    """The grid of `x` × `y` (see the module docstring); `sample` is "is" or "oos"."""
    field = "oos_score" if sample == "oos" else "is_score"
    rows = trials if trials is not None else run.trials.filter(status="done")
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    xs: dict[str, Any] = {}
    ys: dict[str, Any] = {}
    for t in rows:
        if t.status != "done" or x not in t.params or y not in t.params:
            continue
        kx, ky = str(t.params[x]), str(t.params[y])
        xs[kx], ys[ky] = t.params[x], t.params[y]
        score = getattr(t, field)
        if score is not None:
            sums[(kx, ky)].append(Decimal(score))
    means = {k: sum(v, Decimal(0)) / len(v) for k, v in sums.items() if v}
    low = min(means.values()) if means else None
    high = max(means.values()) if means else None
    x_keys = sorted(xs, key=lambda k: _order(xs[k]))
    y_keys = sorted(ys, key=lambda k: _order(ys[k]))
    grid = []
    for ky in y_keys:
        cells = []
        for kx in x_keys:
            value = means.get((kx, ky))
            cells.append({
                "x": kx, "y": ky, "n": len(sums.get((kx, ky), [])),
                "value": None if value is None else str(value.quantize(Decimal("0.0001"))),
                "colour": _colour(value, low, high),
            })  # fmt: skip
        grid.append({"y": ky, "cells": cells})
    return {"x": x, "y": y, "sample": sample, "xs": x_keys, "rows": grid,
            "low": None if low is None else str(low.quantize(Decimal("0.0001"))),
            "high": None if high is None else str(high.quantize(Decimal("0.0001")))}  # fmt: skip
