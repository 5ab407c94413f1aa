"""Reads of the opening scanner's runs: the run in force at a moment, a day's runs (the page's replay),
the candidates as the strategy engine's typed `Candidate`s, and the JSON shape of a run (API and the
`scanner_update` push share it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from krx import KST
from krx import calendar as krx_calendar

from .engine.events import Candidate, ScanEvent
from .scanner_models import ScanRow, ScanSnapshot

__all__ = [
    "candidates_of",
    "day_runs",
    "latest_candidates",
    "row_dict",
    "scan_event",
    "snapshot_at",
    "snapshot_dict",
    "snapshot_rows",
]


def snapshot_at(day: dt.date | None = None, at: dt.datetime | None = None) -> ScanSnapshot | None:
    """The run in force: the last one of `day` at or before `at` (exchange times). Without `day`, the
    day of `at` (KST), else the day of the latest run."""
    runs = ScanSnapshot.objects.all()
    if day is None and at is not None:
        day = krx_calendar.trading_day_of(at)
    if day is not None:
        runs = runs.filter(day=day)
    if at is not None:
        runs = runs.filter(at__lte=at)
    return runs.order_by("-at", "-id").first()


def snapshot_rows(snapshot: ScanSnapshot, limit: int | None = None) -> list[ScanRow]:
    rows = ScanRow.objects.filter(snapshot=snapshot).order_by("rank")
    return list(rows[:limit] if limit is not None else rows)


def day_runs(day: dt.date) -> list[ScanSnapshot]:
    """The day's runs, oldest first (the replay slider's stops)."""
    return list(
        ScanSnapshot.objects.filter(day=day)
        .order_by("at", "id")
        .only("id", "at", "day", "row_count", "news", "error")
    )


def candidates_of(rows: Iterable[ScanRow]) -> list[Candidate]:
    return [
        Candidate(
            code=row.code,
            name=row.name,
            rank=row.rank,
            value_krw=row.value_krw,
            volume_ratio=row.volume_ratio,
            change_pct=row.change_pct,
            price=row.price,
            news_score=row.news_score,
        )
        for row in rows
    ]


def latest_candidates(day: dt.date | None = None) -> list[Candidate]:
    """The candidates of the latest run of `day` (default: today by the exchange's clock); [] when
    that day has no run yet."""
    if day is None:
        from apps.broker.backends import exchange_now

        day = krx_calendar.trading_day_of(exchange_now())
    snapshot = snapshot_at(day)
    return candidates_of(snapshot_rows(snapshot)) if snapshot is not None else []


def scan_event(snapshot_id: int) -> ScanEvent | None:
    """The engine's `ScanEvent` of a stored run (what a `{snapshot_id, at}` message points at)."""
    snapshot = ScanSnapshot.objects.filter(pk=snapshot_id).first()
    if snapshot is None:
        return None
    rows = candidates_of(snapshot_rows(snapshot))
    return ScanEvent(at=snapshot.at, candidates=tuple(rows), snapshot_id=snapshot.pk)


def row_dict(row: ScanRow) -> dict[str, Any]:
    return {
        "rank": row.rank,
        "code": row.code,
        "name": row.name,
        "price": row.price,
        "change_pct": _decimal(row.change_pct),
        "value_krw": row.value_krw,
        "value_estimated": row.value_estimated,
        "volume": row.volume,
        "volume_ratio": _decimal(row.volume_ratio),
        "news_score": row.news_score,
        "value_rank": row.value_rank,
        "surge_rank": row.surge_rank,
        "gain_rank": row.gain_rank,
    }


def _decimal(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"


def snapshot_dict(snapshot: ScanSnapshot, rows: Iterable[ScanRow]) -> dict[str, Any]:
    """A run with its rows: the body of `GET /api/v1/scanner/top` and of the `scanner_update` push."""
    return {
        "snapshot_id": snapshot.pk,
        "at": snapshot.at.isoformat(),
        "at_kst": snapshot.at.astimezone(KST).strftime("%H:%M"),
        "day": snapshot.day.isoformat(),
        "trigger": snapshot.trigger,
        "sources": list(snapshot.sources or []),
        "duration_ms": snapshot.duration_ms,
        "news": snapshot.news,
        "error": snapshot.error,
        "excluded": list(snapshot.excluded or []),
        "count": snapshot.row_count,
        "items": [row_dict(row) for row in rows],
    }
