"""The Kiwoom `1h` (VI발동/해제) frame → `ViEvent` at the client boundary (PROTOCOL §6.7 `1h`, §9.5)."""

from __future__ import annotations

from datetime import date, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.broker.contract import ViEvent, ViKind
from apps.broker.kiwoom.events import KiwoomViEvent, make_vi_event, parse_real
from krx import KST

DAY = date(2025, 2, 4)

# What the simulator sends for a dynamic VI start (apps/broker/simulator/adapter.py `vi_values`).
START = {
    "9001": "005930",
    "302": "삼성전자",
    "13": "100",
    "14": "7",
    "9068": "1",
    "9008": "KOSPI",
    "9075": "",
    "1221": "79600",
    "1223": "101523",
    "1224": "101723",
    "1225": "동적",
    "1236": "74600",
    "1237": "75000",
    "1238": "+6.70",
    "1239": "+6.13",
    "1489": "+6.13",
    "1490": "1",
    "9069": "1",
    "1279": "",
}


def frame(values: dict[str, str], item: str = "005930") -> bytes:
    data = [{"type": "1h", "name": "VI발동/해제", "item": item, "values": values}]
    return orjson.dumps({"trnm": "REAL", "data": data})


def one(values: dict[str, str], item: str = "005930") -> ViEvent:
    (event,) = parse_real(frame(values, item), DAY)
    assert isinstance(event, ViEvent) and isinstance(event, KiwoomViEvent)
    return event


def test_a_start_frame_decodes_to_a_typed_event() -> None:
    event = one(START)
    assert event.code == "005930" and event.name == "삼성전자" and event.day == DAY
    assert event.active is True
    assert event.kind is ViKind.DYNAMIC
    assert event.trigger_price == 79_600
    assert event.at == datetime(2025, 2, 4, 10, 15, 23, tzinfo=KST)
    assert event.release_at == datetime(2025, 2, 4, 10, 17, 23, tzinfo=KST)
    assert (event.static_reference, event.dynamic_reference) == (74_600, 75_000)
    assert event.count == 1 and event.upward is True


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("정적", ViKind.STATIC),
        ("동적", ViKind.DYNAMIC),
        ("동적+정적", ViKind.BOTH),
        ("??", ViKind.UNKNOWN),
    ],
)
def test_kinds(text: str, kind: ViKind) -> None:
    assert one({**START, "1225": text}).kind is kind


def test_a_release_frame_and_an_a_prefixed_code() -> None:
    event = one({**START, "9001": "A000660", "9068": "2", "9069": "2"}, item="A000660")
    assert event.code == "000660" and event.active is False and event.upward is False


@pytest.mark.parametrize("raw", ["", " ", "0", "3", "발동", "x"])
def test_anything_but_an_explicit_release_reads_as_active(raw: str) -> None:
    # The safer reading of an unconfirmed field: an entry refused a little longer.
    assert one({**START, "9068": raw}).active is True


def test_garbage_fields_become_none_never_zero_or_an_exception() -> None:
    event = one(
        {
            **START,
            "1221": "abc",
            "1223": "99",
            "1224": "996060",
            "1236": "0",
            "1237": "-",
            "1490": "x1",
            "9069": "?",
            "1225": "",
        }
    )
    assert event.trigger_price is None and event.at is None and event.release_at is None
    assert event.static_reference is None and event.dynamic_reference is None
    assert event.count is None and event.upward is None and event.kind is ViKind.UNKNOWN
    assert event.active is True


def test_a_frame_without_values_still_names_its_code() -> None:
    (event,) = parse_real(
        orjson.dumps({"trnm": "REAL", "data": [{"type": "1h", "item": "A005930"}]}), DAY
    )
    assert isinstance(event, ViEvent)
    assert event.code == "005930" and event.active is True and event.trigger_price is None


@given(
    st.dictionaries(
        st.sampled_from(sorted(START)),
        st.text(max_size=12)
        | st.from_regex(r"\A[0-9]{6}\Z")
        | st.from_regex(r"\A[+-]?[0-9]{1,9}\Z"),
    )
)
def test_no_frame_makes_an_accessor_raise(values: dict[str, str]) -> None:
    event = KiwoomViEvent("005930", values, DAY)
    for name in (
        "code",
        "name",
        "active",
        "kind",
        "trigger_price",
        "at",
        "release_at",
        "static_reference",
        "dynamic_reference",
        "count",
        "upward",
    ):
        getattr(event, name)


def test_the_builder_is_the_inverse() -> None:
    at = datetime(2025, 2, 4, 10, 15, 23, tzinfo=KST)
    event = make_vi_event("005930", True, at, kind=ViKind.STATIC, price=82_500)
    assert (event.code, event.active, event.kind, event.trigger_price, event.at) == (
        "005930",
        True,
        ViKind.STATIC,
        82_500,
        at,
    )
    assert make_vi_event("005930", False, at).active is False
