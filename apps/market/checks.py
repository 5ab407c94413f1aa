"""System checks of the market app: a KRX calendar that would silently give wrong hours, and the chart's
opening-range length.

XKRX stopped listing 수능 (CSAT) days after 2020; `krx.calendar.CSAT_DAYS` carries them. A year
missing from it would make that day's session open at 09:00 instead of 10:00, so every process
start warns loudly (market.W001) while the current or the next year is not in the table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import checks

from krx import KST
from krx.calendar import csat_missing_years


@checks.register()
def csat_table_check(
    app_configs: Any = None, *, today: dt.date | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    # The one place that reads the wall clock: a start-up check is about the real today.
    day = today or dt.datetime.now(KST).date()
    missing = csat_missing_years([day.year, day.year + 1])
    if not missing:
        return []
    years = ", ".join(str(y) for y in missing)
    return [
        checks.Warning(
            f"The KRX calendar has no 수능 (CSAT) day for {years}: that day's session would be "
            "assumed to open at 09:00 instead of 10:00.",
            hint="Add the Ministry of Education's announced date to krx/calendar.py CSAT_DAYS.",
            id="market.W001",
        )
    ]


# An opening range longer than the first hour is no longer an "opening" range; the scan window is an hour.
OPENING_RANGE_MAX_MINUTES = 60


@checks.register()
def opening_range_minutes_check(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    minutes = settings.CHART_OPENING_RANGE_MINUTES
    if 1 <= minutes <= OPENING_RANGE_MAX_MINUTES:
        return []
    return [
        checks.Error(
            f"CHART_OPENING_RANGE_MINUTES is {minutes}: the opening range must cover 1 to "
            f"{OPENING_RANGE_MAX_MINUTES} minutes.",
            hint="Set CHART_OPENING_RANGE_MINUTES to a whole number of minutes, e.g. 5.",
            id="market.E001",
        )
    ]
