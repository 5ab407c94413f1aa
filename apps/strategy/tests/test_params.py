"""Parameter schemas: every valid set is accepted as typed values; every invalid field is named, alone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.strategy.engine.params import Param, ParamsInvalid, Schema
from apps.strategy.engine.runner import REGISTRY

SCHEMAS = {name: cls.schema for name, cls in REGISTRY.items()}


def _valid(param: Param) -> st.SearchStrategy[Any]:
    if param.kind == "bool":
        base: st.SearchStrategy[Any] = st.booleans()
    elif param.kind == "int":
        base = st.integers(int(param.min), int(param.max))  # type: ignore[arg-type]
    elif param.kind == "decimal":
        base = st.decimals(param.min, param.max, places=2, allow_nan=False, allow_infinity=False)
    else:
        base = st.lists(st.from_regex(r"[0-9]{1,3}", fullmatch=True), max_size=param.max_items)
    return st.one_of(st.none(), base) if param.nullable else base


def _invalid(param: Param) -> st.SearchStrategy[Any]:
    if param.kind == "bool":
        return st.sampled_from(["maybe", 2, 1.5, [True]])
    if param.kind == "int":
        return st.one_of(
            st.integers(max_value=int(param.min) - 1),  # type: ignore[arg-type]
            st.integers(min_value=int(param.max) + 1),  # type: ignore[arg-type]
            st.sampled_from(["x", "1.5", True, "nan"]),
        )
    if param.kind == "decimal":
        return st.one_of(
            st.decimals(max_value=param.min - Decimal("0.01"), places=2, allow_nan=False, allow_infinity=False),  # type: ignore[operator]
            st.decimals(min_value=param.max + Decimal("0.01"), places=2, allow_nan=False, allow_infinity=False),  # type: ignore[operator]
            st.sampled_from(["abc", "Infinity", "NaN", "0.00001", False]),
        )  # fmt: skip
    return st.one_of(
        st.just(["a b"]),
        st.just([str(i) for i in range(param.max_items + 1)]),
        st.just(42),
    )


@st.composite
def valid_sets(draw: st.DrawFn, schema: Schema) -> dict[str, Any]:
    return {p.name: draw(_valid(p)) for p in schema.params}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_valid_sets_round_trip(name: str, data: st.DataObject) -> None:
    schema = SCHEMAS[name]
    values = data.draw(valid_sets(schema))
    try:
        typed = schema.validate(values)
    except ParamsInvalid as exc:  # only the rules across fields may refuse a valid field
        assert schema.check is not None and set(exc.errors) <= {"entry_end_minutes"}
        return
    assert set(typed) == set(schema.by_name)
    stored = schema.to_json(typed)
    assert schema.load(stored) == typed  # the stored form reads back as the same values
    assert schema.to_json(schema.load(stored)) == stored


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_each_invalid_field_is_named_alone(name: str, data: st.DataObject) -> None:
    schema = SCHEMAS[name]
    param = data.draw(st.sampled_from(schema.params))
    bad = data.draw(_invalid(param))
    with pytest.raises(ParamsInvalid) as err:
        schema.validate({param.name: bad})
    assert set(err.value.errors) == {param.name}
    assert err.value.errors[param.name] and all(err.value.errors[param.name])


def test_form_strings_are_coerced() -> None:
    schema = SCHEMAS["opening_breakout"]
    typed = schema.validate(
        {
            "top_n": " 7 ",
            "vwap_margin_pct": "0.25",
            "exit_on_vwap_break": "false",
            "max_extension_pct": "",
        }
    )
    assert typed["top_n"] == 7 and typed["vwap_margin_pct"] == Decimal("0.25")
    assert typed["exit_on_vwap_break"] is False and typed["max_extension_pct"] is None
    ce = SCHEMAS["condition_entry"].validate({"condition_seqs": "3, 5,3", "news_threshold": ""})
    assert ce["condition_seqs"] == ("3", "5") and ce["news_threshold"] is None


def test_required_fields_refuse_empty_and_unknown_fields_are_named() -> None:
    with pytest.raises(ParamsInvalid) as err:
        SCHEMAS["opening_breakout"].validate({"top_n": "", "nope": 1, "vwap_margin_pct": None})
    assert set(err.value.errors) == {"top_n", "nope", "vwap_margin_pct"}
    with pytest.raises(ParamsInvalid) as err:
        SCHEMAS["opening_breakout"].validate(["top_n"])  # type: ignore[arg-type]
    assert set(err.value.errors) == {"params"}


def test_stored_sets_take_new_defaults_and_drop_unknown_fields() -> None:
    schema = SCHEMAS["opening_breakout"]
    loaded = schema.load({"top_n": 3, "removed_param": 1})
    assert loaded["top_n"] == 3 and loaded["news_threshold"] == 70 and "removed_param" not in loaded
