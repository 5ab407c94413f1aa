"""bench/_db.py's commit floor: both modes measured, ordered figures, nothing left behind in the database.
(The figures themselves are the bench's to print, never asserted here.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def _module() -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))  # `_db` imports `_stats` as the benches do
    try:
        spec = importlib.util.spec_from_file_location("bench_db", ROOT / "bench" / "_db.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "bench"))


def _url() -> str:
    s = connection.settings_dict
    user = s["USER"] or "postgres"
    host = s["HOST"] or "127.0.0.1"
    return f"postgres://{user}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_commit_floor_measures_both_modes_and_cleans_up() -> None:
    bench_db = _module()
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        floor = bench_db.commit_floor(_url(), n=20)
        line = bench_db.commit_floor_line(_url())
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert set(floor) == {"durable", "async"}
    for p50, p99 in floor.values():
        assert 0 < p50 <= p99
    assert line.startswith("(f)  the database's commit floor")
    assert "durable p50" in line and "synchronous_commit=off p50" in line
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_commit_floor')")
        assert cursor.fetchone() == (None,)
