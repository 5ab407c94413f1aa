"""`excluded_codes`: the pre-trade check's exclusions for many codes at once (the opening scanner's
filter) — the same flags as the check's per-code read, in one statement, with the configured kinds."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.market.tests.factories import DailyBarFactory, InstrumentFactory
from apps.risk import snapshot
from apps.risk.services.config import config_update

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 2, 4)


def test_bulk_read_equals_the_checks_read(django_assert_num_queries) -> None:
    InstrumentFactory(code="000001", name="가나")
    InstrumentFactory(code="000002", name="관리", is_administrative=True, warning="risk")
    InstrumentFactory(code="000003", name="다라스팩2호", is_halted=True)
    InstrumentFactory(code="000004", name="삼성 레버리지 ETN")
    DailyBarFactory(instrument_id="000001", date=dt.date(2025, 2, 3), close=12_000)
    DailyBarFactory(instrument_id="000001", date=dt.date(2025, 1, 31), close=11_000)
    DailyBarFactory(instrument_id="000001", date=DAY, close=13_000)  # the day itself: not the base
    codes = ["000001", "000002", "000003", "000004", "999999"]
    with django_assert_num_queries(1):
        bulk = snapshot._instrument_read_many(codes, DAY)
    assert bulk == {code: snapshot._instrument_read(code, DAY) for code in codes}
    assert bulk["000001"].base_price == 12_000


def test_excluded_codes_follow_the_configuration() -> None:
    InstrumentFactory(code="000002", name="관리", is_administrative=True, warning="risk")
    InstrumentFactory(code="000003", name="다라스팩2호", is_halted=True)
    InstrumentFactory(code="000004", name="삼성 레버리지 ETN")
    codes = ["000001", "000002", "000003", "000004"]
    assert snapshot.excluded_codes(codes, DAY) == {
        "000002": frozenset({"administrative", "risk"}),
        "000003": frozenset({"halted"}),
    }
    config_update({"excluded_kinds": ["spac", "etn"]}, user=None, reason="SPAC/ETN만")
    snapshot.forget_caches()
    assert snapshot.excluded_codes(codes, DAY) == {
        "000003": frozenset({"spac"}),
        "000004": frozenset({"etn"}),
    }


def test_a_spac_is_known_by_the_masters_board_not_only_its_name() -> None:
    """KRX's master files SPACs under the board "SPAC(소속부없음)"; a name without "스팩" is one too."""
    InstrumentFactory(code="000005", name="디비금융제12호", board="SPAC(소속부없음)")
    InstrumentFactory(code="000006", name="가나다", board="우량기업부")
    config_update({"excluded_kinds": ["spac"]}, user=None, reason="SPAC")
    snapshot.forget_caches()
    excluded = snapshot.excluded_codes(["000005", "000006"], DAY)
    assert excluded == {"000005": frozenset({"spac"})}
    assert snapshot._instrument_read("000005", DAY).kinds == frozenset({"spac"})


def test_the_live_order_index_covers_exactly_the_snapshots_live_statuses() -> None:
    """The snapshot's open-orders read is served by the partial index `trades_order_live_idx`: its
    condition must list the same statuses the statement writes into its SQL."""
    from apps.trades.models import OPEN_STATUSES, Order, OrderStatus

    index = next(i for i in Order._meta.indexes if i.name == "trades_order_live_idx")
    ((lookup, values),) = index.condition.children
    assert lookup == "status__in"
    live = {str(s) for s in (*OPEN_STATUSES, OrderStatus.NEW)}
    assert set(values) == live
    sql, _params = snapshot.snapshot_statement("1234", dt.datetime(2025, 2, 4, tzinfo=dt.UTC), DAY)
    assert all(f"'{s}'" in sql for s in live)
