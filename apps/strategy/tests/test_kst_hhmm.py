"""`kst_hhmm`: the Seoul minute of a timestamp by integer arithmetic equals the zone database's,
across the end of the last Korean summer time (1988) and on random moments since."""

from __future__ import annotations

import datetime as dt
import random

from apps.strategy.engine.market import _KST_FIXED_SINCE_MS, kst_hhmm, ms_to_datetime
from krx import KST


def by_zone(ms: int) -> str:
    return f"{ms_to_datetime(ms).astimezone(KST):%H%M}"


def test_the_arithmetic_equals_the_zone_database() -> None:
    rng = random.Random(7)
    start = _KST_FIXED_SINCE_MS
    end = int(dt.datetime(2040, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    samples = [rng.randrange(start, end) for _ in range(20_000)]
    samples += [start, start + 59_999, start + 60_000, end]
    for ms in samples:
        assert kst_hhmm(ms) == by_zone(ms), ms


def test_around_the_end_of_the_last_summer_time() -> None:
    # 1988-10-09 03:00 KDT became 02:00 KST: before it, the offset was +10.
    for ms in range(_KST_FIXED_SINCE_MS - 3 * 3_600_000, _KST_FIXED_SINCE_MS + 3_600_000, 59_000):
        assert kst_hhmm(ms) == by_zone(ms), ms
    assert kst_hhmm(_KST_FIXED_SINCE_MS - 1) == "0259"  # summer time's last minute
    assert kst_hhmm(_KST_FIXED_SINCE_MS) == "0200"


def test_a_market_minute() -> None:
    at = dt.datetime(2025, 6, 2, 9, 31, 59, tzinfo=KST)
    assert kst_hhmm(int(at.timestamp() * 1000)) == "0931"
