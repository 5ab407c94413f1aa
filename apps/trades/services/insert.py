"""The order row in one statement: the unknown guard, a sell's reservation, the row and its journal.

`order_create` builds the `Order` in Python (validation, risk hook, market, caps) and hands it here. One
SQL statement (data-modifying CTEs) then, atomically and in one round trip:
- checks the unknown guard (no new order for a (code, side) while one is `unknown` there);
- for a sell, reserves the quantity with a conditional UPDATE of the position
  (``quantity - reserved >= q``): under concurrency PostgreSQL re-checks that condition on the row's
  newest version after the other writer commits, so two sellers can never reserve more than is held;
- inserts the order row and its journal rows (created, and claimed when it starts `submitted`).

Outside a transaction the statement commits by itself (autocommit): the low-latency path pays one round
trip, not BEGIN / SELECT / INSERT / INSERT / COMMIT and the ORM's per-row work. Inside one it runs under a
savepoint, so an idempotency-key collision leaves the caller's transaction usable. The SQL is generated
once from the models' fields, so a new field of `Order` is written without touching this module.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone

from ..models import Order, OrderTransition, Position
from ..models import OrderStatus as S

__all__ = ["InsertRefused", "insert_result", "insert_statement", "order_insert", "order_new"]


@dataclass(frozen=True)
class InsertRefused:
    """Nothing was written: `unknown` — the guard; otherwise the sell's reservation did not fit."""

    unknown: bool


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _col(model: type, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


@functools.cache
def _sql(reserve: bool, guarded: bool = False) -> str:
    fields = Order._meta.concrete_fields
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)
    o, p, t = _table(Order), _table(Position), _table(OrderTransition)
    acct, code, side, status = (_col(Order, n) for n in ("account_no", "code", "side", "status"))
    pid = connection.ops.quote_name(Order._meta.pk.column)
    guard = (
        f"SELECT EXISTS (SELECT 1 FROM {o} WHERE {acct} = %s AND {code} = %s AND {side} = %s "  # noqa: S608 - names are ours, values bound
        f"AND {status} = '{S.UNKNOWN}') AS unknown"
    )
    ctes = [f"guard AS ({guard})"]
    ok = "NOT (SELECT unknown FROM guard)"
    if guarded:  # the single round trip: only when the snapshot is the one the order was checked on
        from apps.risk.snapshot import SNAPSHOT_OK

        ok = f"current_setting('{SNAPSHOT_OK}', true) = 'true' AND {ok}"
    if reserve:
        reserved, qty, upd = (_col(Position, n) for n in ("reserved", "quantity", "updated_at"))
        pacct, pcode = _col(Position, "account_no"), _col(Position, "code")
        ctes.append(
            f"res AS (UPDATE {p} SET {reserved} = {reserved} + %s, {upd} = %s "  # noqa: S608
            f"WHERE {pacct} = %s AND {pcode} = %s AND {qty} - {reserved} >= %s AND {ok} "
            "RETURNING 1)"
        )
        ok += " AND EXISTS (SELECT 1 FROM res)"
    ctes.append(f"ins AS (INSERT INTO {o} ({cols}) SELECT {values} WHERE {ok} RETURNING {pid})")
    tcols = ", ".join(
        _col(OrderTransition, n)
        for n in ("order", "at", "from_status", "to_status", "cause", "message")
    )
    ctes.append(
        f"j AS (INSERT INTO {t} ({tcols}) SELECT ins.{pid}, %s::timestamptz, v.f, v.t, v.c, '' "  # noqa: S608
        "FROM ins CROSS JOIN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])) "
        "AS v(f, t, c))"
    )
    return f"WITH {', '.join(ctes)} SELECT (SELECT unknown FROM guard), EXISTS (SELECT 1 FROM ins)"  # noqa: S608


def _plain(field: models.Field, ops: object) -> Callable[[object, object], object]:
    """Django's `get_db_prep_save` for `field`, without its work where the result is known: None, a
    str of a char field, an aware datetime, an int of an integer field (wrapped in the type
    PostgreSQL's backend uses, `integerfield_type_map`)."""
    full = field.get_db_prep_save
    if isinstance(field, models.JSONField):
        return full  # None is JSON's null there
    if isinstance(field, models.DateTimeField):
        return lambda v, c: v if v is None or (type(v) is dt.datetime and v.tzinfo) else full(v, c)
    if isinstance(field, models.CharField):
        return lambda v, c: v if v is None or isinstance(v, str) else full(v, c)
    types = getattr(ops, "integerfield_type_map", {})
    if isinstance(field, models.IntegerField) and field.get_internal_type() in types:
        wrap = types[field.get_internal_type()]
        return lambda v, c: v if v is None else wrap(v) if type(v) is int else full(v, c)
    return lambda v, c: v if v is None else full(v, c)


_CONSTANT_DEFAULT = (type(None), str, int, bool, Decimal)


@functools.cache
def _row_template() -> tuple[list[object], list[tuple[int, models.Field]], dict[str, int]]:
    """`order_new`'s parts, built once: every column's default in `concrete_fields` order (an
    immutable value computed here; a callable's, e.g. the id's `uuid4`, marked to be called per
    row), and each attribute's position."""
    base: list[object] = []
    called: list[tuple[int, models.Field]] = []
    for i, f in enumerate(Order._meta.concrete_fields):
        value = None if callable(f.default) and f.has_default() else f.get_default()
        if (f.has_default() and callable(f.default)) or not isinstance(value, _CONSTANT_DEFAULT):
            called.append((i, f))
        base.append(value)
    index = {f.attname: i for i, f in enumerate(Order._meta.concrete_fields)}
    return base, called, index


def order_new(**values: object) -> Order:
    """`Order(**values)` (by attribute name: `created_by_id`, not `created_by`), built positionally:
    Django's keyword path looks up every field's default and pops every keyword (≈0.3 ms per order
    on this machine, most of the order's planning); the positional one, which Django uses to load
    rows, only sets the attributes. The same row: every column not given gets its field's default
    (a callable default called for this row)."""
    base, called, index = _row_template()
    row = base.copy()
    for i, f in called:
        row[i] = f.get_default()
    for name, value in values.items():
        row[index[name]] = value
    return Order(*row)


@functools.cache
def _preps() -> list[tuple[str, Callable[[object, object], object]]]:
    """(attribute, preparation) of every column of `Order`, in `_sql`'s order (built once)."""
    ops = connections[DEFAULT_DB_ALIAS].ops
    return [(f.attname, _plain(f, ops)) for f in Order._meta.concrete_fields]


def insert_statement(
    order: Order, journal: list[tuple[str, str, str]], reserve: int = 0, *, guarded: bool = False
) -> tuple[str, list[object]]:
    """The one statement (and its parameters) that writes `order` (unsaved; `reserved_quantity` =
    `reserve` for a sell) with its `journal` rows (from, to, cause); `insert_result` reads its row.
    `order_insert` runs it through Django's connection, the async order path on its own.
    `guarded`: writes nothing unless the transaction's snapshot guard found the snapshot unchanged
    (`apps.risk.snapshot.snapshot_guard_statement`, run before it in the same transaction)."""
    now = timezone.now()
    order.created_at = order.updated_at = now
    # The wrapper itself, not the `connection` proxy: each field's preparation reads the connection
    # several times, and every read through the proxy is a context-local lookup (≈40 per order).
    wrapper = connections[DEFAULT_DB_ALIAS]
    params: list[object] = [order.account_no, order.code, order.side]
    if reserve:
        params += [reserve, now, order.account_no, order.code, reserve]
    params += [prep(getattr(order, attname), wrapper) for attname, prep in _preps()]
    params += [
        now,  # every journal row of the new order is at its creation
        [row[0] for row in journal],
        [row[1] for row in journal],
        [row[2][:100] for row in journal],
    ]
    return _sql(bool(reserve), guarded), params


def insert_result(order: Order, row: tuple[object, ...]) -> InsertRefused | None:
    unknown, inserted = row
    if not inserted:
        return InsertRefused(unknown=bool(unknown))
    order._state.adding = False
    order._state.db = connection.alias
    return None


def order_insert(
    order: Order, journal: list[tuple[str, str, str]], *, reserve: int = 0, savepoint: bool = True
) -> InsertRefused | None:
    """Insert `order` (unsaved; `reserved_quantity` = `reserve` for a sell) with its `journal` rows
    (from, to, cause). None when written; `InsertRefused` when the guard or the reservation said no.
    Raises `IntegrityError` on a duplicate idempotency key (nothing written). `savepoint=False`: the
    caller's transaction ends with an `IntegrityError` anyway (the executor's, under the risk lock),
    so the two savepoint round trips are skipped."""
    sql, params = insert_statement(order, journal, reserve)
    if connection.in_atomic_block and savepoint:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return insert_result(order, row)
