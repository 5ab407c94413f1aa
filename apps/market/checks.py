"""System checks of the market app: a KRX calendar that would silently give wrong hours.

XKRX stopped listing 수능 (CSAT) days after 2020; `krx.calendar.CSAT_DAYS` carries them. A year
missing from it would make that day's session open at 09:00 instead of 10:00, so every process
start warns loudly (market.W001) while the current or the next year is not in the table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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
