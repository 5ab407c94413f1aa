"""Strategy parameter schemas and their one validation (pure: no Django, no I/O).

Each strategy declares its parameters as a `Schema` of `Param`s (type, default, allowed range, labels).
`Schema.validate` is the only way a parameter set is accepted — by the config service, the API, the
strategy page and the engine itself — and reports **every** error, keyed by the field's name, so a bad
request names what is wrong and changes nothing. Values may come as JSON or as form strings; they are
coerced to `int`, `Decimal`, `bool` or `tuple[str, ...]`. `Schema.to_json` is the stored form
(Decimals as strings). Messages are Korean with the English in parentheses (no gettext here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

__all__ = ["Param", "ParamsInvalid", "Schema"]

Kind = Literal["int", "decimal", "bool", "str_list"]

_TRUE = {"true", "1", "on", "yes", "y"}
_FALSE = {"false", "0", "off", "no", "n", ""}
_ITEM = re.compile(r"^[0-9A-Za-z_-]{1,20}$")
_MAX_DECIMAL_PLACES = 4


class ParamsInvalid(ValueError):
    """A parameter set that does not validate: `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid strategy parameters: " + ", ".join(sorted(errors)))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Kind
    default: Any
    label: str  # Korean (the UI's first language)
    label_en: str
    help: str = ""
    min: int | Decimal | None = None
    max: int | Decimal | None = None
    nullable: bool = False  # None (an empty form field) switches the rule off
    max_items: int = 20  # str_list only

    def coerce(self, raw: Any) -> Any:
        """The typed value of `raw`, or ValueError with the message to show."""
        if raw is None or (isinstance(raw, str) and not raw.strip() and self.kind != "bool"):
            if self.nullable:
                return None
            if self.kind == "str_list":
                return ()
            raise ValueError("값이 필요합니다 (required)")
        if self.kind == "int":
            value: Any = _as_int(raw)
        elif self.kind == "decimal":
            value = _as_decimal(raw)
        elif self.kind == "bool":
            return _as_bool(raw)
        else:
            return self._as_list(raw)
        if self.min is not None and value < self.min:
            raise ValueError(f"{self.min} 이상이어야 합니다 (must be at least {self.min})")
        if self.max is not None and value > self.max:
            raise ValueError(f"{self.max} 이하여야 합니다 (must be at most {self.max})")
        return value

    def _as_list(self, raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str):
            items = [part.strip() for part in raw.split(",") if part.strip()]
        elif isinstance(raw, list | tuple):
            items = []
            for item in raw:
                if not isinstance(item, str | int) or isinstance(item, bool):
                    raise ValueError("문자열 목록이어야 합니다 (must be a list of strings)")
                items.append(str(item).strip())
        else:
            raise ValueError("목록이어야 합니다 (must be a list)")
        for item in items:
            if not _ITEM.match(item):
                raise ValueError(f"잘못된 항목: {item!r} (invalid item)")
        unique = tuple(dict.fromkeys(items))
        if len(unique) > self.max_items:
            raise ValueError(f"최대 {self.max_items}개까지입니다 (at most {self.max_items} items)")
        return unique

    def describe(self) -> dict[str, Any]:
        """The schema entry the API and the page show."""
        return {
            "name": self.name,
            "type": self.kind,
            "default": _plain(self.default),
            "min": _plain(self.min),
            "max": _plain(self.max),
            "nullable": self.nullable,
            "label": self.label,
            "label_en": self.label_en,
            "help": self.help,
        }


def _as_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("정수여야 합니다 (must be an integer)")
    if isinstance(raw, int):
        return raw
    try:
        number = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError("정수여야 합니다 (must be an integer)") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError("정수여야 합니다 (must be an integer)")
    return int(number)


def _as_decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError("숫자여야 합니다 (must be a number)")
    try:
        number = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError("숫자여야 합니다 (must be a number)") from None
    if not number.is_finite():
        raise ValueError("유한한 숫자여야 합니다 (must be a finite number)")
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_DECIMAL_PLACES:
        raise ValueError(
            f"소수점 {_MAX_DECIMAL_PLACES}자리까지입니다 "
            f"(at most {_MAX_DECIMAL_PLACES} decimal places)"
        )
    return number


def _as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError("true 또는 false여야 합니다 (must be true or false)")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # one spelling per number: "0.5", never "0.50"
    if isinstance(value, tuple):
        return list(value)
    return value


Check = Callable[[dict[str, Any]], dict[str, list[str]]]


@dataclass(frozen=True, slots=True)
class Schema:
    params: tuple[Param, ...]
    # Rules across fields (e.g. the entry window must end after the opening range); run only when
    # every field is valid on its own.
    check: Check | None = None
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def validate(
        self, data: Mapping[str, Any], base: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Typed values of `data` over `base` (the current values; default: the defaults). Unknown
        fields are errors. Raises `ParamsInvalid` with every error; returns a complete set."""
        values = dict(self.defaults())
        if base is not None:
            values.update({k: v for k, v in base.items() if k in self.by_name})
        errors: dict[str, list[str]] = {}
        if not isinstance(data, Mapping):
            raise ParamsInvalid({"params": ["객체여야 합니다 (must be an object)"]})
        for name, raw in data.items():
            param = self.by_name.get(name) if isinstance(name, str) else None
            if param is None:
                errors[str(name)] = ["알 수 없는 항목입니다 (unknown field)"]
                continue
            try:
                values[name] = param.coerce(raw)
            except ValueError as exc:
                errors[name] = [str(exc)]
        if not errors and self.check is not None:
            errors = self.check(values)
        if errors:
            raise ParamsInvalid(errors)
        return values

    def load(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """Typed values of a stored set: missing fields take their defaults (a parameter added since),
        fields no longer known are ignored. A stored set that no longer validates raises."""
        known = {k: v for k, v in stored.items() if k in self.by_name}
        return self.validate(known)

    def to_json(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {p.name: _plain(values.get(p.name, p.default)) for p in self.params}

    def describe(self) -> list[dict[str, Any]]:
        return [p.describe() for p in self.params]
