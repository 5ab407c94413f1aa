"""Reads of the strategy configuration: the active settings (cached per version), the active rows,
the change history with what changed, and recent signals."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.db.models import Max

from .engine.base import StrategySettings
from .engine.params import ParamsInvalid
from .engine.runner import REGISTRY
from .models import Signal, StrategyConfig

log = logging.getLogger(__name__)

__all__ = [
    "Change",
    "active_configs",
    "active_settings",
    "config_changes",
    "config_history",
    "forget_cache",
    "recent_signals",
    "settings_of",
]

# Versions are immutable: the settings of one combination of active versions, per process.
_cache: dict[tuple[tuple[str, int, int], ...], dict[str, StrategySettings]] = {}
_lock = threading.Lock()


def forget_cache() -> None:
    with _lock:
        _cache.clear()


def _active_versions() -> tuple[tuple[str, int, int], ...]:
    # The row ids too: a version number reused (a restored database, a rolled-back test) is not
    # the same configuration.
    rows = (
        StrategyConfig.objects.values_list("strategy")
        .annotate(v=Max("version"), i=Max("id"))
        .order_by("strategy")
    )
    return tuple((name, v, i) for name, v, i in rows if name in REGISTRY)


def settings_of(row: StrategyConfig) -> StrategySettings:
    """A version as the engine's settings (typed parameters). A stored set the code no longer accepts
    (a range narrowed since) is reported and runs switched off with the defaults."""
    schema = REGISTRY[row.strategy].schema
    try:
        params = schema.load(row.params or {})
        enabled = row.enabled
    except ParamsInvalid as exc:
        log.error("strategy %s v%s: stored parameters invalid: %s", row.strategy, row.version, exc)
        params, enabled = schema.defaults(), False
    return StrategySettings(row.strategy, row.version, enabled, row.budget_krw, params)


def active_settings() -> dict[str, StrategySettings]:
    """Every known strategy's active configuration by name, in the registry's order. One small query
    (the active versions); the rows are read only when a version moved."""
    versions = _active_versions()
    hit = _cache.get(versions)
    if hit is not None:
        return dict(hit)
    rows = {row.strategy: row for row in active_configs()}
    result = {name: settings_of(rows[name]) for name in REGISTRY if name in rows}
    with _lock:
        _cache.clear()
        _cache[versions] = result
    return dict(result)


def active_configs() -> list[StrategyConfig]:
    """The latest version of each known strategy (registry order)."""
    rows = (
        StrategyConfig.objects.select_related("author")
        .order_by("strategy", "-version")
        .distinct("strategy")
    )
    by_name = {row.strategy: row for row in rows}
    return [by_name[name] for name in REGISTRY if name in by_name]


def active_config(name: str) -> StrategyConfig | None:
    return (
        StrategyConfig.objects.select_related("author")
        .filter(strategy=name)
        .order_by("-version")
        .first()
    )


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: Any
    after: Any


def config_changes(before: StrategyConfig | None, after: StrategyConfig) -> list[Change]:
    """What `after` changed against the version before it (everything, for a first version)."""
    out: list[Change] = []
    old_params = before.params if before is not None else {}
    for name in ("enabled", "budget_krw"):
        old = getattr(before, name) if before is not None else None
        if before is None or old != getattr(after, name):
            out.append(Change(name, old, getattr(after, name)))
    for name in sorted(set(old_params) | set(after.params or {})):
        old, new = old_params.get(name), (after.params or {}).get(name)
        if before is None or old != new:
            out.append(Change(name, old, new))
    return out


def config_history(
    name: str | None = None, limit: int = 50
) -> list[tuple[StrategyConfig, list[Change]]]:
    """Versions newest first (of one strategy or all), each with its changes against the one before."""
    qs = StrategyConfig.objects.select_related("author").order_by("-created_at", "-id")
    if name is not None:
        qs = qs.filter(strategy=name)
    rows = list(qs[:limit])
    wanted = {(r.strategy, r.version - 1) for r in rows if r.version > 1}
    previous: dict[tuple[str, int], StrategyConfig] = {}
    if wanted:
        names = {n for n, _ in wanted}
        for row in StrategyConfig.objects.filter(
            strategy__in=names, version__in={v for _, v in wanted}
        ):
            previous[(row.strategy, row.version)] = row
    return [
        (row, config_changes(previous.get((row.strategy, row.version - 1)), row)) for row in rows
    ]


def recent_signals(limit: int = 50, strategy: str | None = None) -> list[Signal]:
    qs = Signal.objects.all()
    if strategy:
        qs = qs.filter(strategy=strategy)
    return list(qs.order_by("-at", "-id")[:limit])
