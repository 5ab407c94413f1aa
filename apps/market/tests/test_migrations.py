"""0002 rebuilds the bar tables with composite primary keys and keeps the stored bars."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("market", "0001_initial")]
AFTER = [("market", "0002_bar_composite_primary_keys")]


def _migrate(target: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_composite_key_migration_keeps_bars_both_ways() -> None:
    try:
        old = _migrate(BEFORE)
        old.get_model("market", "Instrument").objects.create(code="005930")
        daily, minute = old.get_model("market", "DailyBar"), old.get_model("market", "MinuteBar")
        for i in range(3):
            daily.objects.create(
                instrument_id="005930",
                date=dt.date(2025, 1, 2 + i),
                open=1,
                high=2,
                low=1,
                close=2,
                prev_close=None if i == 0 else 2,
                volume=3,
                value=4,
            )
            minute.objects.create(
                instrument_id="005930",
                time=dt.datetime(2025, 1, 2, 0, 1 + i, tzinfo=dt.UTC),
                open=1,
                high=2,
                low=1,
                close=2 + i,
                volume=3,
                value=None,
            )
        new = _migrate(AFTER)
        daily, minute = new.get_model("market", "DailyBar"), new.get_model("market", "MinuteBar")
        assert [b.pk for b in daily.objects.order_by("date")] == [
            ("005930", dt.date(2025, 1, 2 + i)) for i in range(3)
        ]
        assert list(daily.objects.order_by("date").values_list("prev_close", flat=True)) == [
            None,
            2,
            2,
        ]
        assert list(minute.objects.order_by("time").values_list("close", flat=True)) == [2, 3, 4]
        with connection.cursor() as cursor:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, "market_dailybar")
            ]
            constraints = connection.introspection.get_constraints(cursor, "market_dailybar")
        assert "id" not in columns
        primary = [c for c in constraints.values() if c["primary_key"]]
        assert [c["columns"] for c in primary] == [["code", "date"]]
        assert not [c for c in constraints.values() if c["unique"] and not c["primary_key"]]
        # And back: the rows get surrogate ids again.
        old = _migrate(BEFORE)
        assert old.get_model("market", "DailyBar").objects.count() == 3
        assert old.get_model("market", "MinuteBar").objects.count() == 3
    finally:
        _migrate(AFTER)
