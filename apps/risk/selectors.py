"""Reads of the risk app: the active configuration (cached per version), the state, the journal,
the configuration history and the exit policy the realtime evaluator reads per tick."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from django.db import models

from .check import Limits
from .models import RiskConfig, RiskStateEvent, RiskStatus, State
from .policy import ExitPolicy

__all__ = [
    "ActiveConfig",
    "active_config",
    "config_history",
    "config_of",
    "exit_policy_cached",
    "forget_cache",
    "state_journal",
    "status_read",
]


@dataclass(frozen=True, slots=True)
class ActiveConfig:
    """The configuration in force, as plain data (the row itself when there is one)."""

    row: RiskConfig
    limits: Limits
    exit_policy: ExitPolicy

    @property
    def version(self) -> int | None:
        return self.row.version if self.row.pk else None


def config_of(row: RiskConfig) -> ActiveConfig:
    version = row.version if row.pk else None
    limits = Limits(
        weight_pct=Decimal(row.weight_pct),
        max_positions=row.max_positions,
        max_daily_loss_krw=row.max_daily_loss_krw,
        max_daily_loss_pct=row.max_daily_loss_pct,
        max_order_value=row.max_order_value,
        max_entries_per_minute=row.max_entries_per_minute,
        no_entry_before_close_minutes=row.no_entry_before_close_minutes,
        excluded=frozenset(row.excluded_kinds or ()),
        reduce_at_pct=Decimal(row.reduce_at_pct),
        version=version,
    )
    policy = ExitPolicy(
        stop_loss_pct=Decimal(row.stop_loss_pct),
        take_profit_pct=row.take_profit_pct,
        trailing_stop_pct=row.trailing_stop_pct,
        exit_before_close_minutes=row.exit_before_close_minutes,
        version=version,
    )
    return ActiveConfig(row=row, limits=limits, exit_policy=policy)


# Configurations are immutable per version: one cached per process, replaced when the version moves.
_cache: dict[int | None, ActiveConfig] = {}
_cache_lock = threading.Lock()


def forget_cache() -> None:
    with _cache_lock:
        _cache.clear()
    global _policy
    _policy = None


def status_read() -> tuple[str, int | None]:
    """(state, active config version) in one query; ACTIVE and no version without the row."""
    row = RiskStatus.objects.filter(pk=1).values_list("state", "config_version").first()
    if row is None:
        return State.ACTIVE, _latest_version()
    return row[0], row[1] if row[1] is not None else _latest_version()


def _latest_version() -> int | None:
    return RiskConfig.objects.aggregate(v=models.Max("version"))["v"]


def config_cached(version: int | None) -> bool:
    return version in _cache


def config_if_cached(version: int | None) -> ActiveConfig | None:
    """The configuration of `version` when this process has read it, else None (never a query)."""
    return _cache.get(version)


def active_config(version: int | None = ...) -> ActiveConfig:  # type: ignore[assignment]
    """The configuration of `version` (default: the active one), from the cache when known."""
    if version is ...:
        version = status_read()[1]
    hit = _cache.get(version)
    if hit is not None:
        return hit
    row = RiskConfig.objects.filter(version=version).first() if version is not None else None
    config = config_of(row if row is not None else RiskConfig(version=0))
    with _cache_lock:
        _cache[version if row is not None else None] = config
    return config


def config_history(limit: int = 50) -> list[RiskConfig]:
    return list(RiskConfig.objects.select_related("author").order_by("-version")[:limit])


def state_journal(limit: int = 50) -> list[RiskStateEvent]:
    return list(RiskStateEvent.objects.select_related("author")[:limit])


# --- the exit policy provider (apps.risk.policy.set_exit_policy_provider) --------------------------------
# Called per tick by the realtime exit evaluator, possibly on the event loop, where the ORM may not run:
# the cached policy is returned at once and refreshed (one query) on a thread of its own at most once
# per POLICY_REFRESH_SECONDS; only the very first call waits for the read.
POLICY_REFRESH_SECONDS = 1.0
_policy: tuple[float, ExitPolicy] | None = None
_refresher = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="risk-policy")
_pending: concurrent.futures.Future | None = None


def _store(policy: ExitPolicy) -> ExitPolicy:
    global _policy
    _policy = (time.monotonic(), policy)
    return policy


def _read_policy() -> ExitPolicy:
    from django import db

    db.close_old_connections()
    return _store(active_config().exit_policy)


def exit_policy_cached() -> ExitPolicy:
    global _pending
    current = _policy
    if current is not None and time.monotonic() - current[0] < POLICY_REFRESH_SECONDS:
        return current[1]
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _store(active_config().exit_policy)
    if _pending is None or _pending.done():
        _pending = _refresher.submit(_read_policy)
    if current is None:
        return _pending.result(timeout=5)
    return current[1]
