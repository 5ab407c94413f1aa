"""Writes of the market app: instrument upserts and bulk bar loads.

Modules: `bars` (daily/minute bar loads, one transaction per file, idempotent), `pgcopy` (PostgreSQL
binary COPY encoded in numpy), `instruments` (the stock master from a file or from the broker).
Callers import from `apps.market.services`; the names below are its public surface.
"""

from apps.market.services.bars import (
    DailyRow,
    LoadResult,
    Progress,
    daily_bars_import_file,
    daily_bars_load,
    daily_bars_upsert,
    minute_bars_import_file,
    minute_bars_load,
    minute_bars_upsert,
)
from apps.market.services.instruments import instruments_import_master, instruments_sync_from_broker

__all__ = [
    "DailyRow",
    "LoadResult",
    "Progress",
    "daily_bars_import_file",
    "daily_bars_load",
    "daily_bars_upsert",
    "instruments_import_master",
    "instruments_sync_from_broker",
    "minute_bars_import_file",
    "minute_bars_load",
    "minute_bars_upsert",
]
