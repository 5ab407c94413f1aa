"""Figures shared by the benches (run as `python bench/NAME.py`, so this directory is on sys.path)."""

from __future__ import annotations


def nearest_rank(values: list[float], q: float) -> float:
    """The value at quantile `q` (0–1) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
