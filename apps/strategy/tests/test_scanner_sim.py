"""The scanner against the simulator over real sockets: three ranking TRs through the Kiwoom client and
the shared rate limiter, and the `strategy.scan_tick` task on the simulator's (frozen, then moved)
exchange clock: one scan per exchange minute, none before the window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.broker.clock import reset_cache
from apps.broker.contract import RankingKind
from apps.broker.simulator.testing import SimHandle
from apps.conditions.tests.live_support import at, simulated_broker
from apps.strategy import tasks
from apps.strategy.scanner import scan_run
from apps.strategy.scanner_models import ScanSnapshot
from krx import KST

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SimHandle, object]]:
    import apps.news.scores

    # No news: the news app is tested on its own.
    monkeypatch.setattr(apps.news.scores, "get_score", lambda code: None)
    with simulated_broker(tmp_path, start=at("08:59:30"), key_prefix="test-scanner") as pair:
        yield pair


def test_a_scan_against_the_simulator(sim) -> None:
    handle, broker = sim
    handle.advance_to_sync(at("09:05:00"))
    snapshot = scan_run(broker, at=at("09:05:00"))
    assert snapshot is not None and snapshot.error == ""
    assert snapshot.sources == ["trading_value", "volume_surge", "change_rate"]
    rows = list(snapshot.rows.order_by("rank"))
    assert 0 < len(rows) <= 30
    by_value = [r.code for r in broker.rankings(RankingKind.TRADING_VALUE)]
    ranked = [r for r in rows if r.value_rank is not None]
    # Stocks of the trading-value ranking keep its order among themselves.
    assert [r.code for r in ranked] == sorted((r.code for r in ranked), key=by_value.index)
    values = [r.value_krw for r in rows]
    assert values == sorted(values, key=lambda v: -(v or 0)) and all(v for v in values)
    assert any(r.volume_ratio is not None for r in rows)
    assert all(r.price and r.name and r.change_pct is not None for r in rows)


def test_the_task_scans_once_per_exchange_minute(sim, monkeypatch: pytest.MonkeyPatch) -> None:
    handle, _ = sim
    queued: list[tuple[dt.datetime, float]] = []
    monkeypatch.setattr(tasks, "_enqueue_tick", lambda slot, wait: queued.append((slot, wait)))

    def tick(when: str) -> dict:
        handle.advance_to_sync(at(when))
        reset_cache()  # the clock's 5-s reading cache: read the simulator again
        return tasks.scan_tick()

    assert tick("08:59:40")["skipped"] == "outside the scan window"
    first = tick("09:00:20")
    assert first["slot"] == at("09:00:00").astimezone(dt.UTC).isoformat()
    assert tasks.scan_tick()["skipped"] == "already scanned"  # another worker, the same minute
    assert tick("09:00:50")["skipped"] == "already scanned"
    assert tick("09:01:05")["snapshot_id"] is not None
    slots = list(ScanSnapshot.objects.order_by("at").values_list("slot", flat=True))
    assert [s.astimezone(KST).strftime("%H:%M") for s in slots] == ["09:00", "09:01"]
    assert queued == []  # a frozen simulator (speed 0): the beat entry's ticks do it all
