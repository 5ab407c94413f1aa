"""Building the pre-trade check's frozen `Snapshot` from the database (under the account lock).

Kept cheap for the realtime path: per check, one query each for the status row (state + config
version), the account's positions, its open and recent orders, and today's realised P&L, plus the
trader's switch for automatic entries. The configuration (per version), the session's opening equity
(per account and day), the instrument's flags and base price (a minute) and the session's close (per
day) are cached per process.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Case, IntegerField, Q, Sum, When
from django.utils import timezone

import krx

from .check import InstrumentFlags, Limits, OpenOrder, PositionState, Snapshot
from .models import RiskDay
from .selectors import active_config, status_read

__all__ = [
    "Figures",
    "excluded_codes",
    "forget_caches",
    "opening_of",
    "positions_of",
    "realized_today",
    "set_vi_provider",
    "snapshot_build",
]

TRADING_FLAG = "trading-enabled"
INSTRUMENT_TTL_SECONDS = 60.0

_days: dict[tuple[str, dt.date], tuple[int, int]] = {}
_instruments: dict[tuple[str, dt.date], tuple[float, InstrumentFlags]] = {}
_closes: dict[dt.date, dt.datetime | None] = {}
_lock = threading.Lock()
_vi_provider: Callable[[str], bool] | None = None


def set_vi_provider(provider: Callable[[str], bool] | None) -> None:
    """Install the source of "VI in progress" (a code → bool callable, called on every check: it must
    not wait on the network). `RiskConfig.ready` installs `apps.risk.vi.vi_active` in every process."""
    global _vi_provider
    _vi_provider = provider


def forget_caches() -> None:
    with _lock:
        _days.clear()
        _instruments.clear()
        _closes.clear()


def positions_of(account_no: str) -> dict[str, PositionState]:
    from apps.trades.models import Position

    rows = Position.objects.filter(account_no=account_no, quantity__gt=0).values_list(
        "code", "quantity", "reserved", "cost_amount", "cost_fees", "current_price"
    )
    return {
        code: PositionState(code, qty, reserved, cost + fees, price)
        for code, qty, reserved, cost, fees, price in rows
    }


def realized_today(account_no: str, day: dt.date) -> int:
    from apps.trades.models import Trade

    total = Trade.objects.filter(account_no=account_no, date=day).aggregate(s=Sum("pnl"))["s"]
    return int(total or 0)


def _orders(account_no: str, since: dt.datetime) -> tuple[tuple[OpenOrder, ...], int]:
    from apps.trades.models import OPEN_STATUSES, Order, OrderStatus, OrderType, Side

    live = [*OPEN_STATUSES, OrderStatus.NEW]
    recent_buy = Q(side=Side.BUY, created_at__gte=since)
    rows = (
        Order.objects.filter(account_no=account_no)
        .filter(Q(status__in=live) | recent_buy)
        # The window test in SQL: no timestamp to parse per row on the hot path.
        .annotate(recent=Case(When(recent_buy, then=1), default=0, output_field=IntegerField()))
        .values_list(
            "code", "side", "quantity", "filled_quantity", "price", "order_type", "status", "recent"
        )
    )
    orders: list[OpenOrder] = []
    count = 0
    for code, side, qty, filled, price, order_type, status, recent in rows:
        if status in live and qty > filled:
            limit = price if order_type == OrderType.LIMIT else None
            orders.append(OpenOrder(code, side, qty - filled, limit))
        count += recent
    return tuple(orders), count


def opening_if_cached(account_no: str, day: dt.date) -> int | None:
    """The account's opening equity of `day` when this process has recorded or read it, else None
    (never a query)."""
    hit = _days.get((account_no, day))
    return hit[0] if hit is not None else None


def opening_of(
    account_no: str, day: dt.date, positions: dict[str, PositionState]
) -> tuple[int | None, int]:
    """(opening equity, unrealised P&L carried in) of the account's session: recorded once per
    day, at the first look, from the latest balance snapshot's estimated assets (추정자산), else
    `RISK_EQUITY_FALLBACK_KRW`; unknown (None) is not recorded, so the next look tries again."""
    key = (account_no, day)
    hit = _days.get(key)
    if hit is not None:
        return hit
    row = RiskDay.objects.filter(account_no=account_no, date=day).first()
    if row is None or row.opening_equity is None:
        equity, source = _equity_now(account_no)
        if equity is None:
            return None, 0
        carried = sum(p.unrealized for p in positions.values())
        row, _created = RiskDay.objects.update_or_create(
            account_no=account_no,
            date=day,
            defaults={"opening_equity": equity, "opening_unrealized": carried, "source": source},
        )
    value = (int(row.opening_equity), int(row.opening_unrealized))
    with _lock:
        _days[key] = value
    return value


def _equity_now(account_no: str) -> tuple[int | None, str]:
    from apps.accounts.models import BalanceSnapshot

    snap = (
        BalanceSnapshot.objects.filter(account__account_no=account_no)
        .order_by("-taken_at")
        .values_list("estimated_assets", flat=True)
        .first()
    )
    if snap is not None:
        return int(snap), "balance"
    fallback = int(getattr(settings, "RISK_EQUITY_FALLBACK_KRW", 0) or 0)
    return (fallback, "setting") if fallback > 0 else (None, "")


def _session_close(day: dt.date) -> dt.datetime | None:
    if day in _closes:
        return _closes[day]
    from krx import calendar

    try:
        close: dt.datetime | None = calendar.session(day).close
    except calendar.NotATradingDay:
        close = None
    _closes[day] = close
    return close


def instrument_flags(code: str, day: dt.date) -> InstrumentFlags:
    """The code's exclusion kinds, market and base price (previous close), cached a minute."""
    key = (code, day)
    hit = _instruments.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < INSTRUMENT_TTL_SECONDS:
        flags = hit[1]
    else:
        flags = _instrument_read(code, day)
        with _lock:
            _instruments[key] = (now, flags)
    if _vi_provider is not None and _vi_provider(code):
        from dataclasses import replace

        flags = replace(flags, kinds=flags.kinds | {"vi"})
    return flags


_INSTRUMENT_FIELDS = (
    "market",
    "name",
    "board",
    "is_halted",
    "is_administrative",
    "is_caution",
    "warning",
)


def is_spac(name: str, board: str) -> bool:
    """A SPAC (기업인수목적회사): the master's board says so (KRX files it under "SPAC(소속부없음)");
    the name ("…스팩…호") covers instruments synced from the broker's list, which has no board."""
    return "SPAC" in (board or "").upper() or "스팩" in name or "SPAC" in name.upper()


def is_etn(name: str) -> bool:
    """An ETN. Our master holds stocks (the broker's KOSPI/KOSDAQ/KONEX lists and the KRX stock
    file), where an ETN appears only by name: KRX requires "ETN" in every ETN's name. The broker's
    own ETN flag (the "Q" prefix of account and condition codes) is dropped when codes are normalised.
    """
    return "ETN" in name.upper()


def _flags_of(code: str, row: tuple[Any, ...] | None, base: int | None) -> InstrumentFlags:
    kinds: set[str] = set()
    market = krx.Market.KOSPI.value
    if row is not None:
        market_, name, board, halted, administrative, caution, warning = row
        market = market_ if market_ in krx.Market.__members__ else market
        if halted:
            kinds.add("halted")
        if administrative:
            kinds.add("administrative")
        if caution:
            kinds.add("caution")
        if warning in ("warning", "risk", "overheated", "liquidation"):
            kinds.add(warning)
        if is_spac(name, board):
            kinds.add("spac")
        if is_etn(name):
            kinds.add("etn")
    return InstrumentFlags(code=code, market=market, kinds=frozenset(kinds), base_price=base)


def _instrument_read(code: str, day: dt.date) -> InstrumentFlags:
    from apps.market.models import DailyBar, Instrument

    row = Instrument.objects.filter(code=code).values_list(*_INSTRUMENT_FIELDS).first()
    base = (
        DailyBar.objects.filter(instrument_id=code, date__lt=day)
        .order_by("-date")
        .values_list("close", flat=True)
        .first()
    )
    return _flags_of(code, row, base)


def _instrument_read_many(codes: list[str], day: dt.date) -> dict[str, InstrumentFlags]:
    """`_instrument_read` of many codes in one statement (the base price as a subquery)."""
    from django.db.models import OuterRef, Subquery

    from apps.market.models import DailyBar, Instrument

    base = (
        DailyBar.objects.filter(instrument_id=OuterRef("code"), date__lt=day)
        .order_by("-date")
        .values("close")[:1]
    )
    rows = {
        r[0]: r[1:]
        for r in Instrument.objects.filter(code__in=codes)
        .annotate(base=Subquery(base))
        .values_list("code", *_INSTRUMENT_FIELDS, "base")
    }
    out = {}
    for code in codes:
        row = rows.get(code)
        out[code] = _flags_of(code, row[:-1] if row else None, row[-1] if row else None)
    return out


def excluded_codes(codes: Iterable[str], day: dt.date) -> dict[str, frozenset[str]]:
    """Of `codes`, those the active risk configuration excludes from entries, with the kinds that apply:
    the pre-trade check's `excluded` reason (the same instrument flags, the same configuration), for
    callers that pick candidates (the opening scanner). Instruments are read in one statement for the
    codes not cached (a minute, like the check's)."""
    wanted = list(dict.fromkeys(codes))
    now = time.monotonic()
    missing = [
        c
        for c in wanted
        if (hit := _instruments.get((c, day))) is None or now - hit[0] >= INSTRUMENT_TTL_SECONDS
    ]
    if missing:
        fresh = _instrument_read_many(missing, day)
        with _lock:
            for code, flags in fresh.items():
                _instruments[(code, day)] = (now, flags)
    limits = active_config().limits
    out: dict[str, frozenset[str]] = {}
    for code in wanted:
        kinds = instrument_flags(code, day).kinds & limits.excluded
        if kinds:
            out[code] = kinds
    return out


def switch_on() -> bool:
    from apps.core.models import RuntimeFlag

    return RuntimeFlag.objects.filter(key=TRADING_FLAG, enabled=True).exists()


def snapshot_statement(account_no: str, since: dt.datetime, day: dt.date) -> tuple[str, list[Any]]:
    """The snapshot's reads in ONE statement (PostgreSQL; each round trip counts on the realtime
    path): the status row, the positions, the open orders, the recent entries, today's realised
    P&L and the switch. Run after the lock statement, so it sees everything committed before.
    `snapshot_parse` reads its row (the async order path runs it on its own connection)."""
    # The entries of the last minute as a closed range (its end a day on: no order is newer): with both
    # ends a parameter, a generic plan estimates a narrow range and reads the `created_at` index —
    # with the start alone it would estimate a third of the table (the order connection's plans are
    # generic: `apps.trades.services.aorder._connect`).
    until = since + dt.timedelta(days=1)
    params = [account_no, account_no, account_no, since, until, account_no, day, TRADING_FLAG]
    return _snapshot_sql(), params


@functools.cache
def _snapshot_sql() -> str:
    """`snapshot_statement`'s SQL, written once (the same text for every order)."""
    from apps.core.models import RuntimeFlag
    from apps.trades.models import OPEN_STATUSES, Order, OrderStatus, Position, Trade

    from .models import RiskStatus

    # Written into the SQL, not bound: the planner can then use the partial index of live orders
    # (`trades_order_live_idx`) in the prepared statement's generic plan too. Our own constants.
    live = sorted(str(s) for s in (*OPEN_STATUSES, OrderStatus.NEW))
    marks = ", ".join(f"'{s}'" for s in live)
    sql = f"""
        SELECT
          (SELECT state FROM {RiskStatus._meta.db_table} WHERE id = 1),
          (SELECT config_version FROM {RiskStatus._meta.db_table} WHERE id = 1),
          (SELECT COALESCE(json_agg(json_build_array(
              code, quantity, reserved, cost_amount + cost_fees, current_price) ORDER BY code),
              '[]'::json)
             FROM {Position._meta.db_table} WHERE account_no = %s AND quantity > 0),
          (SELECT COALESCE(json_agg(json_build_array(
              code, side, quantity - filled_quantity,
              CASE WHEN order_type = 'limit' THEN price END) ORDER BY id), '[]'::json)
             FROM {Order._meta.db_table}
             WHERE account_no = %s AND status IN ({marks}) AND quantity > filled_quantity),
          (SELECT COUNT(*) FROM {Order._meta.db_table}
             WHERE account_no = %s AND side = 'buy' AND created_at >= %s AND created_at < %s),
          (SELECT COALESCE(SUM(pnl), 0) FROM {Trade._meta.db_table}
             WHERE account_no = %s AND date = %s),
          EXISTS (SELECT 1 FROM {RuntimeFlag._meta.db_table} WHERE key = %s AND enabled)
    """  # noqa: S608 - table names from the models, values as parameters
    # The json arrays in a fixed order: the same rows give the same text (the fingerprint above).
    return sql


# The order path's single round trip (`apps.trades.services.aorder`): the snapshot's row with its
# fingerprint (md5 of the row's text, computed by the server), and the guard that reads the snapshot
# again under the account lock and records in the transaction whether its fingerprint is still the one
# the order was checked against (`SNAPSHOT_OK`, read by the guarded insert,
# `apps.trades.services.insert`). Equal fingerprints are equal rows: every figure the check reads from
# the database is in the row (its json arrays in a fixed order), so the check of the cached row is the
# check of a fresh one.
SNAPSHOT_OK = "stockagent.snapshot_ok"


def snapshot_fingerprint_statement(
    account_no: str, since: dt.datetime, day: dt.date
) -> tuple[str, list[Any]]:
    """`snapshot_statement` with one more column: the row's fingerprint."""
    sql, params = snapshot_statement(account_no, since, day)
    return f"SELECT s.*, md5(s::text) FROM ({sql}) AS s", params  # noqa: S608 - our SQL


def snapshot_guard_statement(
    account_no: str, since: dt.datetime, day: dt.date, fingerprint: str
) -> tuple[str, list[Any]]:
    """The snapshot read again (run after the lock statement): whether its fingerprint is
    `fingerprint` (also set as the transaction's `SNAPSHOT_OK`, 'true' or 'false'), the transaction's
    `synchronous_commit`, then the row and its fingerprint as `snapshot_fingerprint_statement` gives
    them."""
    # A changed snapshot's transaction writes nothing of value (the lock row's time): its COMMIT does
    # not wait for the WAL flush (`synchronous_commit` is read at COMMIT, a local setting is allowed).
    sql, params = snapshot_statement(account_no, since, day)
    guard = (
        f"SELECT set_config('{SNAPSHOT_OK}', (s.fp = %s)::text, true) = 'true', "  # noqa: S608
        "set_config('synchronous_commit', CASE WHEN s.fp = %s "
        "THEN current_setting('synchronous_commit') ELSE 'off' END, true), "
        f"s.* FROM (SELECT r.*, md5(r::text) AS fp FROM ({sql}) AS r) AS s"
    )
    return guard, [fingerprint, fingerprint, *params]


def snapshot_parse(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """(state, version, positions, orders, recent, realized, switch) from the statement's row; a
    state or version of None (no status row yet) is read by `status_read` when the snapshot is
    assembled (`snapshot_cached` says False then)."""
    state, version, pos_rows, order_rows, recent, realized, switch = row
    positions = {
        code: PositionState(code, qty, reserved, int(cost), price)
        for code, qty, reserved, cost, price in pos_rows
    }
    orders = tuple(OpenOrder(code, side, int(rem), price) for code, side, rem, price in order_rows)
    return state, version, positions, orders, int(recent), int(realized), bool(switch)


def _status_fallback(state: str | None, version: int | None) -> tuple[str, int | None]:
    if state is None:
        return status_read()
    if version is None:
        return state, status_read()[1]
    return state, version


def _read_pg(account_no: str, since: dt.datetime, day: dt.date) -> tuple[Any, ...]:
    sql, params = snapshot_statement(account_no, since, day)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = snapshot_parse(cursor.fetchone())
    return (*_status_fallback(raw[0], raw[1]), *raw[2:])


def _reads(
    account_no: str, since: dt.datetime, day: dt.date
) -> tuple[str, int | None, dict[str, PositionState], tuple[OpenOrder, ...], int]:
    """(state, version, positions, open orders, realised today): one round trip on PostgreSQL."""
    if connection.vendor == "postgresql":
        state, version, positions, orders, _recent, realized, _switch = _read_pg(
            account_no, since, day
        )
        return state, version, positions, orders, realized
    state, version = status_read()
    orders, _recent = _orders(account_no, since)
    return state, version, positions_of(account_no), orders, realized_today(account_no, day)


def snapshot_window(now: dt.datetime | None) -> tuple[dt.datetime, dt.date, dt.datetime]:
    """(now, the exchange's trading day, the start of the entry-rate minute) of a check."""
    now = now or timezone.now()
    return now, now.astimezone(krx.KST).date(), timezone.now() - dt.timedelta(seconds=60)


def snapshot_build(
    account_no: str, code: str, *, automatic: bool, now: dt.datetime | None = None
) -> Snapshot:
    """Everything the check needs about `account_no` and `code`, read now (call under the lock)."""
    now, day, since = snapshot_window(now)
    if connection.vendor == "postgresql":
        raw = _read_pg(account_no, since, day)
    else:
        state, version = status_read()
        positions = positions_of(account_no)
        orders, recent = _orders(account_no, since)
        realized = realized_today(account_no, day)
        switch = switch_on() if automatic else True
        raw = (state, version, positions, orders, recent, realized, switch)
    return snapshot_assemble(raw, account_no, code, automatic=automatic, now=now, day=day)


def snapshot_cached(raw: tuple[Any, ...], account_no: str, code: str, day: dt.date) -> bool:
    """Whether `snapshot_assemble` of `raw` reads only this process's caches (no query): the
    async order path assembles on its event loop then, else in its database thread."""
    from .selectors import config_cached

    hit = _instruments.get((code, day))
    return (
        raw[0] is not None
        and raw[1] is not None
        and config_cached(raw[1])
        and (account_no, day) in _days
        and hit is not None
        and time.monotonic() - hit[0] < INSTRUMENT_TTL_SECONDS
        and (day in _closes)
    )


def snapshot_assemble(
    raw: tuple[Any, ...],
    account_no: str,
    code: str,
    *,
    automatic: bool,
    now: dt.datetime,
    day: dt.date,
) -> Snapshot:
    """The `Snapshot` from the statement's figures and the cached configuration, opening equity,
    instrument flags and session close (each read on a miss)."""
    state, version = _status_fallback(raw[0], raw[1])
    _s, _v, positions, orders, recent, realized, switch = raw
    config = active_config(version)
    opening, carried = opening_of(account_no, day, positions)
    instrument = instrument_flags(code, day)
    position = positions.get(code)
    if position is not None and position.price is not None:
        from dataclasses import replace

        instrument = replace(instrument, mark=position.price)
    return Snapshot(
        now=now,
        trading_day=day,
        session_close=_session_close(day),
        opening_equity=opening,
        opening_unrealized=carried,
        realized_today=realized,
        positions=positions,
        open_orders=orders,
        entries_last_minute=recent,
        state=state,
        switch_on=switch if automatic else True,
        limits=config.limits,
        instrument=instrument,
    )


@dataclass(frozen=True, slots=True)
class Figures:
    """Today's figures of an account (the state API and the risk page)."""

    day: dt.date
    opening_equity: int | None
    realized: int
    unrealized: int
    pnl: int
    loss_budget: int | None
    budget_left: int | None
    exposure: int
    positions: int
    limits: Limits
    state: str
    config_version: int | None


def figures_of(account_no: str, at: dt.datetime | None = None) -> Figures:
    """Today's P&L, loss budget, exposure (held value + unfilled buys) and positions count."""
    from .check import day_pnl, loss_budget

    if at is None:
        from .clock import exchange_time

        at = exchange_time()  # the exchange's day: the simulator's date in paper trading
    day = at.astimezone(krx.KST).date()
    state, version, positions, orders, realized = _reads(account_no, timezone.now(), day)
    config = active_config(version)
    opening, carried = opening_of(account_no, day, positions)
    probe = Snapshot(
        now=at,
        trading_day=day,
        session_close=None,
        opening_equity=opening,
        opening_unrealized=carried,
        realized_today=realized,
        positions=positions,
        open_orders=orders,
        entries_last_minute=0,
        state=state,
        switch_on=True,
        limits=config.limits,
        instrument=InstrumentFlags(code=""),
    )
    pnl = day_pnl(probe)
    budget = loss_budget(config.limits, opening)
    held = sum(p.value for p in positions.values())
    pending = sum(
        (
            o.price
            if o.price is not None
            else (positions[o.code].price or 0)
            if o.code in positions
            else 0
        )
        * o.remaining
        for o in orders
        if o.side == "buy"
    )
    codes = set(positions) | {o.code for o in orders if o.side == "buy"}
    return Figures(
        day=day,
        opening_equity=opening,
        realized=realized,
        unrealized=sum(p.unrealized for p in positions.values()),
        pnl=pnl,
        loss_budget=budget,
        budget_left=None if budget is None else budget + min(pnl, 0),
        exposure=held + pending,
        positions=len(codes),
        limits=config.limits,
        state=state,
        config_version=config.version,
    )
