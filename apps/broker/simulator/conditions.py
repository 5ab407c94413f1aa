"""Condition searches (조건검색) of the simulator: a YAML file of (seq, name, formula) and a small,
safe expression evaluator over per-stock fields.

Formulas are parsed with `ast` and only whitelisted nodes are accepted (boolean logic,
comparisons, arithmetic, field names, numbers, and the functions abs/min/max); nothing is ever
passed to eval. Errors name the condition and the line/column of the offending token.

Fields (per stock, at evaluation time): price, base_price, open, high, low, change, change_rate
(%), volume, traded_value (KRW), traded_value_eok (억원), value_rank (1 = largest traded value in
the universe), volume_ratio_prev_day (% of the previous day's volume to the same time),
prev_volume, vwap, price_vs_vwap (%), new_day_high (price at the day's high after the open),
gap (% open vs base), range_pct (% high vs low), strength (체결강도 %), minutes_since_open,
market_cap_eok, kospi (1/0), kosdaq (1/0), kospi200 (1/0).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .dto import ConditionInfo

FIELDS: frozenset[str] = frozenset(
    {
        "price", "base_price", "open", "high", "low", "change", "change_rate", "volume",
        "traded_value", "traded_value_eok", "value_rank", "volume_ratio_prev_day", "prev_volume",
        "vwap", "price_vs_vwap", "new_day_high", "gap", "range_pct", "strength",
        "minutes_since_open", "market_cap_eok", "kospi", "kosdaq", "kospi200",
    }
)  # fmt: skip

DEFAULT_PATH = Path(__file__).with_name("default_conditions.yaml")

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b if b else 0.0,
    ast.Mod: lambda a, b: a % b if b else 0.0,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FUNCS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max}

Compiled = Callable[[Mapping[str, float]], Any]


class ConditionError(ValueError):
    """A bad condition file or formula; the message names the condition and the position."""


def _err(label: str, node: ast.AST | None, msg: str, line_offset: int = -1) -> ConditionError:
    if node is not None and hasattr(node, "lineno"):
        return ConditionError(
            f"{label}: {msg} at line {node.lineno + line_offset}, column {node.col_offset + 1}"
        )
    return ConditionError(f"{label}: {msg}")


def compile_formula(formula: str, label: str = "condition") -> Compiled:
    """Compile a formula into a function of a field mapping. Raises ConditionError."""
    try:
        # Wrapped in parentheses on their own lines so a formula may span lines in YAML; line
        # numbers are shifted back by one, columns are unchanged.
        tree = ast.parse(f"(\n{formula.strip()}\n)", mode="eval")
    except SyntaxError as exc:
        raise ConditionError(
            f"{label}: syntax error at line {(exc.lineno or 2) - 1}, column {exc.offset}: {exc.msg}"
        ) from None

    def build(node: ast.AST) -> Compiled:
        if isinstance(node, ast.BoolOp):
            parts = [build(v) for v in node.values]
            fn = parts[0]
            # Chained closures instead of all()/any() over a generator: evaluated per stock
            # every few simulated seconds.
            for nxt in parts[1:]:
                if isinstance(node.op, ast.And):
                    fn = (lambda a, b: lambda f: a(f) and b(f))(fn, nxt)
                else:
                    fn = (lambda a, b: lambda f: a(f) or b(f))(fn, nxt)
            return fn
        if isinstance(node, ast.UnaryOp):
            inner = build(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda f: not inner(f)
            if isinstance(node.op, ast.USub):
                return lambda f: -inner(f)
            if isinstance(node.op, ast.UAdd):
                return inner
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            op = _BINOPS[type(node.op)]
            left, right = build(node.left), build(node.right)
            return lambda f: op(left(f), right(f))
        elif isinstance(node, ast.Compare):
            first = build(node.left)
            if len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
                op1, right1 = _CMPOPS[type(node.ops[0])], build(node.comparators[0])
                return lambda f: op1(first(f), right1(f))
            ops = []
            for op_node, comp in zip(node.ops, node.comparators, strict=True):
                if type(op_node) not in _CMPOPS:
                    raise _err(label, comp, f"comparison {type(op_node).__name__} is not allowed")
                ops.append((_CMPOPS[type(op_node)], build(comp)))

            def compare(f: Mapping[str, float]) -> bool:
                left = first(f)
                for op, right_fn in ops:
                    right = right_fn(f)
                    if not op(left, right):
                        return False
                    left = right
                return True

            return compare
        elif isinstance(node, ast.Name):
            name = node.id
            if name in ("true", "True"):
                return lambda f: True
            if name in ("false", "False"):
                return lambda f: False
            if name not in FIELDS:
                raise _err(label, node, f"unknown field {name!r}")
            return lambda f: f[name]
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, int | float):  # bool is an int
                return lambda f: value
            raise _err(label, node, f"constant {value!r} is not a number")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
                raise _err(label, node, "only abs(), min() and max() may be called")
            fn = _FUNCS[node.func.id]
            args = [build(a) for a in node.args]
            wanted = 1 if node.func.id == "abs" else 2
            if len(args) < wanted or (node.func.id == "abs" and len(args) > 1):
                need = "one argument" if wanted == 1 else "at least two arguments"
                raise _err(label, node, f"{node.func.id}() takes {need}")
            return lambda f: fn(*(a(f) for a in args))
        raise _err(label, node, f"{type(node).__name__} is not allowed in a formula")

    return build(tree.body)


def field_names(formula: str) -> frozenset[str]:
    """The fields a (valid) formula reads."""
    tree = ast.parse(f"(\n{formula.strip()}\n)", mode="eval")
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in FIELDS)


@dataclass(frozen=True)
class Condition:
    seq: str
    name: str
    formula: str
    fn: Compiled

    def matches(self, fields: Mapping[str, float]) -> bool:
        return _safe(self.fn, fields)

    def info(self) -> ConditionInfo:
        return ConditionInfo(self.seq, self.name, self.formula)


def parse_conditions(data: Any, source: str = "conditions") -> list[Condition]:
    """Conditions from parsed YAML: {'conditions': [{seq, name, formula}, ...]}."""
    items = data.get("conditions") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConditionError(f"{source}: expected a top-level 'conditions:' list")
    out: list[Condition] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not {"seq", "name", "formula"} <= item.keys():
            raise ConditionError(f"{source}: entry {i + 1} needs seq, name and formula")
        seq = str(item["seq"]).strip()
        if not seq or len(seq) > 3 or seq in seen:
            raise ConditionError(
                f"{source}: entry {i + 1} has a missing, long (>3) or duplicate seq {seq!r}"
            )
        seen.add(seq)
        name = str(item["name"]).strip()
        formula = str(item["formula"])
        label = f"{source}: condition {seq} ({name})"
        out.append(Condition(seq, name, formula, compile_formula(formula, label)))
    return out


def load_conditions(path: str | Path | None = None) -> list[Condition]:
    """Load and compile the YAML file (default: the shipped default_conditions.yaml)."""
    p = Path(path) if path else DEFAULT_PATH
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConditionError(f"{p}: invalid YAML: {exc}") from None
    return parse_conditions(data, str(p.name))


def _safe(fn: Compiled, fields: Mapping[str, float]) -> bool:
    """A formula that fails at run time (e.g. a comparison of incompatible values) does not
    match, rather than stopping the market."""
    try:
        return bool(fn(fields))
    except (TypeError, ValueError, ArithmeticError):
        return False


class ConditionSet:
    """The loaded conditions plus their current memberships."""

    def __init__(self, conditions: list[Condition]) -> None:
        self.conditions = {c.seq: c for c in conditions}
        self.needed: frozenset[str] = frozenset().union(
            *(field_names(c.formula) for c in conditions)
        )
        self.members: dict[str, set[str]] = {seq: set() for seq in self.conditions}
        self.evaluated = False

    def list(self) -> list[ConditionInfo]:
        return [c.info() for c in self.conditions.values()]

    def evaluate(
        self, fields_by_code: Mapping[str, Mapping[str, float]]
    ) -> list[tuple[str, str, str]]:
        """Re-evaluate every condition; return the changes as (seq, code, 'I'|'D') in order."""
        changes: list[tuple[str, str, str]] = []
        for seq, cond in self.conditions.items():
            now = {code for code, f in fields_by_code.items() if _safe(cond.fn, f)}
            old = self.members[seq]
            changes.extend((seq, code, "D") for code in sorted(old - now))
            changes.extend((seq, code, "I") for code in sorted(now - old))
            self.members[seq] = now
        self.evaluated = True
        return changes

    def reset(self) -> None:
        self.members = {seq: set() for seq in self.conditions}
        self.evaluated = False
