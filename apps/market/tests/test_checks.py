"""market.W001: a year missing from the 수능 table is a loud start-up warning."""

from __future__ import annotations

import datetime as dt

from django.core import checks

from apps.market.checks import csat_table_check


def test_covered_years_pass() -> None:
    assert csat_table_check(today=dt.date(2026, 5, 1)) == []


def test_missing_next_year_warns() -> None:
    [msg] = csat_table_check(today=dt.date(2027, 12, 1))
    assert msg.id == "market.W001"
    assert msg.level == checks.WARNING
    assert "2028" in msg.msg and "2027" not in msg.msg


def test_missing_current_and_next_year_both_named() -> None:
    [msg] = csat_table_check(today=dt.date(2030, 1, 2))
    assert "2030, 2031" in msg.msg


def test_registered_with_django() -> None:
    assert csat_table_check in checks.registry.registry.registered_checks
