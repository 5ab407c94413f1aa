"""Signal → order: the strategy engine's decisions become stored signals and, through the executor, orders.

One signal, in this order (`asignal_execute`, on the realtime process's event loop):
1. `asignal_prepare` (ONE statement on the event loop's order connection: one round trip, no thread hop,
   a commit that does not wait for the WAL flush — the order's durable commit right after flushes it;
   `signal_prepare` in the database thread when the instrument is not cached yet): INSERT the `Signal` row. Its `key` is unique per
   (strategy, code, day, kind): an existing row means the signal was already handled — by this process
   before a restart, or by another — and nothing else happens (a restart never repeats an entry). In the
   same transaction: the trading gate (`apps.risk.services.gate.gate_status`): an entry (buy) needs the
   trader's switch on AND the risk state ACTIVE, else the row is stored `gated` and no order is made;
   exits (sells) always go on (DESIGN.md: closing the gate never blocks exits; the pre-trade check
   decides). Also read there: the strategy's budget in use, the stock's market and name, and for a sell
   the sellable quantity of the strategy's position. An entry without a news score in its features or
   the scanner's candidate looks the score up (`feeds.aget_news_score`) at the same time, not before.
2. sizing (pure, `plan_order`): a buy of whole shares within the strategy's budget and under the risk
   configuration's max order value when this process knows it (`budget_krw` less what
   its positions cost and its open buys hold; at most `params["entry_krw"]` when set) at a marketable
   limit `STRATEGY_ENTRY_SLIPPAGE_PCT` above the reference price (the signal's, else the last tick's),
   rounded down onto the KRX tick grid and within the day's upper limit; a sell of the whole sellable
   quantity at `exit_limit_price` (as the risk exits price theirs).
3. `aorder_submit` (the committed Signal row precedes it; the broker is called outside any transaction):
   cause `signal`, `cause_ref` the signal's id, `strategy_tag` the strategy, `idempotency_key`
   `signal:<key>` (one order per signal, whatever happens).
4. `signal_outcome` (database thread): `accepted` with the order, `rejected` with the executor's reasons
   (`OrderRefused.reasons`, the risk engine's), `failed` on an unexpected error (the order, if one was
   made, found by its idempotency key). After that commit: the `trade_signal` push
   (`apps.strategy.outcome`).

The led path (`_execute_led`, taken when the news score is known and the instrument and the order's
planning are cached — the realtime process after its first order of a code): steps 1–3 in two round
trips instead of three. Step 1's statement goes out with the order transaction's BEGIN, key, lock and
snapshot (`aorder_submit_led`); sizing and the intent are decided on the loop from its row while the
account is locked (nothing awaited there); a duplicate, a gated entry or a sizing refusal rolls the
order's transaction back (the signal's row stays, committed in its own transaction before it). When
the connection fails before that round trip's reply, the signal is decided again by the path above,
which finds its row if it was made: a duplicate then, never a second entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

import krx
from apps.core import gcpause
from apps.core.live import publish_after_commit
from apps.realtime.handlers import db_call
from apps.risk.models import State as RiskState
from apps.trades.models import OPEN_STATUSES, Cause, Order, OrderStatus, OrderType, Position
from apps.trades.services import OrderIntent, OrderRefused, aorder_submit
from apps.trades.services.aorder import LeadFailed, aorder_statement, aorder_submit_led
from apps.trades.services.executor import order_plan_ready

from .engine.base import StrategySettings
from .engine.events import Signal
from .models import Signal as SignalRow
from .models import SignalStatus
from .outcome import (
    idempotency_key,
    signal_outcome,
    signal_payload,
    signals_interrupted_settle,
)
from .sizing import OrderPlan, entry_limit_price, plan_order, weight_room

log = logging.getLogger(__name__)

__all__ = [
    "OrderPlan",
    "Prepared",
    "asignal_execute",
    "asignal_prepare",
    "entry_limit_price",
    "idempotency_key",
    "plan_order",
    "signal_outcome",
    "signal_payload",
    "signal_prepare",
    "signals_interrupted_settle",
]


# --------------------------------------------------------------------------------- 1. prepare
@dataclass(frozen=True)
class Prepared:
    """What the database said about one signal (None from `signal_prepare`: already handled)."""

    row_id: int
    status: str  # "new", or "gated" (final)
    account_no: str
    market: str
    name: str
    budget_used: int  # KRW the strategy's positions cost + its open buys hold
    sellable: int  # a sell: the strategy's position's sellable quantity
    payload: dict[str, Any] = field(default_factory=dict)  # the trade_signal push when final
    # The risk configuration's max order value (KRW) when known: an entry is sized under it rather
    # than sized over it and refused (`order_value`); the pre-trade check still decides.
    max_order_krw: int | None = None
    # KRW the weight per stock still allows for this code (`sizing.weight_room`) when known.
    weight_room_krw: int | None = None


def signal_prepare(
    signal: Signal,
    *,
    account_no: str,
    strategy_version: int | None = None,
    features: dict[str, Any] | None = None,
) -> Prepared | None:
    """Store the signal (None when its key exists: handled before); gate an entry (database thread).

    The hot path is ONE statement (one round trip, one commit): the insert (`ON CONFLICT (key) DO
    NOTHING`) with the switch, the risk state, the strategy's budget in use and, for a sell, the
    sellable quantity of its position read beside it. Only a gated entry takes a second statement."""
    day = signal.at.astimezone(krx.KST).date()
    market, name = _instrument(signal.code)
    data = features if features is not None else signal.features
    sql, params = _prepare_statement(signal, day, account_no, strategy_version, name, data)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return _prepared(signal, row, account_no, market, name)


def _gated(signal: Signal, row: tuple[Any, ...]) -> bool:
    """An entry while the trader's switch is off or the risk state is not ACTIVE (exits always go)."""
    _row_id, switch, state = row[:3]
    return signal.side == "buy" and not (switch and (state or RiskState.ACTIVE) == RiskState.ACTIVE)


def _prepared(
    signal: Signal, row: tuple[Any, ...], account_no: str, market: str, name: str
) -> Prepared | None:
    """The prepare statement's row → `Prepared` (a gated entry: its row marked, in this thread)."""
    row_id, switch, state, held, buys, sellable, config_version, exposure = row
    if row_id is None:
        return None
    state = state or RiskState.ACTIVE
    used = int(held or 0) + int(buys or 0)
    if _gated(signal, row):
        gate = {"switch": bool(switch), "state": state}
        with transaction.atomic():
            signal_row = SignalRow.objects.select_for_update().get(pk=row_id)
            signal_row.status = SignalStatus.GATED
            signal_row.risk_reasons = [_gate_reason(gate)]
            signal_row.save(update_fields=["status", "risk_reasons"])
            payload = signal_payload(signal_row)
            publish_after_commit("trade_signal", payload)
        return Prepared(row_id, SignalStatus.GATED, account_no, market, name, used, 0, payload)
    cap, room = _risk_caps(config_version, account_no, signal, int(exposure or 0))
    return Prepared(
        row_id,
        SignalStatus.NEW,
        account_no,
        market,
        name,
        used,
        int(sellable or 0),
        max_order_krw=cap,
        weight_room_krw=room,
    )


def _risk_caps(
    config_version: int | None, account_no: str, signal: Signal, exposure: int
) -> tuple[int | None, int | None]:
    """(max order value, weight room) of the risk configuration in force, from the process's caches
    (no query: None when that version or the session's opening equity was not read yet — the
    pre-trade check then has the last word alone)."""
    from apps.risk.selectors import config_if_cached
    from apps.risk.snapshot import opening_if_cached

    config = config_if_cached(config_version)
    if config is None:
        return None, None
    day = signal.at.astimezone(krx.KST).date()
    equity = opening_if_cached(account_no, day)
    return config.limits.max_order_value, weight_room(config.limits.weight_pct, equity, exposure)


async def asignal_prepare(
    signal: Signal,
    *,
    account_no: str,
    strategy_version: int | None = None,
    features: dict[str, Any] | None = None,
) -> Prepared | None:
    """`signal_prepare` with its statement on the event loop's order connection (no thread hop) and
    a commit that does not wait for the WAL flush (`aorder_statement`): the order that follows
    commits durably, which flushes the signal's commit too. Only a gated entry, an instrument not
    yet cached and a broken connection go through the database thread."""
    cached = _instrument_cached(signal.code)
    if cached is None:
        return await db_call(
            signal_prepare,
            signal,
            account_no=account_no,
            strategy_version=strategy_version,
            features=features,
        )
    market, name = cached
    day = signal.at.astimezone(krx.KST).date()
    data = features if features is not None else signal.features
    sql, params = _prepare_statement(signal, day, account_no, strategy_version, name, data)
    try:
        row = await aorder_statement(sql, params, wait_for_flush=False)
    except psycopg.OperationalError as exc:
        # The statement may have run: the thread's attempt then finds the key (None: not acted on,
        # never a second entry) — the safe side of a database restart in that instant.
        log.warning("strategy: signal row on the order connection failed (%s); retrying", exc)
        return await db_call(
            signal_prepare,
            signal,
            account_no=account_no,
            strategy_version=strategy_version,
            features=features,
        )
    assert row is not None
    if row[0] is not None and _gated(signal, row):  # its row marked with the ORM, in the thread
        return await db_call(_prepared, signal, row, account_no, market, name)
    return _prepared(signal, row, account_no, market, name)


def _prepare_statement(
    signal: Signal,
    day: dt.date,
    account_no: str,
    strategy_version: int | None,
    name: str,
    features: dict[str, Any],
) -> tuple[str, list[Any]]:
    from apps.core.models import RuntimeFlag
    from apps.risk.models import RiskStatus
    from apps.risk.snapshot import TRADING_FLAG

    signals, flags = SignalRow._meta.db_table, RuntimeFlag._meta.db_table
    status, positions, orders = (
        RiskStatus._meta.db_table,
        Position._meta.db_table,
        Order._meta.db_table,
    )
    sql = f"""
        WITH ins AS (
            INSERT INTO {signals} (key, strategy, strategy_version, account_no, code, name, side, day,
                                   at, price, reason, features, status, risk_reasons, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, '[]'::jsonb, now())
            ON CONFLICT (key) DO NOTHING
            RETURNING id
        )
        SELECT (SELECT id FROM ins),
               EXISTS (SELECT 1 FROM {flags} WHERE key = %s AND enabled),
               (SELECT state FROM {status} WHERE id = 1),
               (SELECT sum(cost_amount) FROM {positions}
                 WHERE account_no = %s AND strategy_tag = %s AND quantity > 0),
               (SELECT sum((quantity - filled_quantity) * price) FROM {orders}
                 WHERE account_no = %s AND strategy_tag = %s AND side = 'buy'
                   AND status = ANY(%s) AND price IS NOT NULL),
               (SELECT quantity - reserved FROM {positions}
                 WHERE account_no = %s AND code = %s AND quantity > 0 AND strategy_tag = %s),
               (SELECT config_version FROM {status} WHERE id = 1),
               (SELECT COALESCE(sum(quantity * COALESCE(current_price, cost_amount / quantity)), 0)
                  FROM {positions} WHERE account_no = %s AND code = %s AND quantity > 0)
               + (SELECT COALESCE(sum((quantity - filled_quantity) * price), 0) FROM {orders}
                   WHERE account_no = %s AND code = %s AND side = 'buy'
                     AND status = ANY(%s) AND price IS NOT NULL)
    """  # noqa: S608 (table names from the models; every value is a parameter)
    params = [
        signal.key or _fallback_key(signal),
        signal.strategy,
        strategy_version,
        account_no,
        signal.code,
        name,
        signal.side,
        day,
        signal.at,
        signal.price,
        signal.reason,
        json.dumps(features, cls=DjangoJSONEncoder),
        SignalStatus.NEW.value,
        TRADING_FLAG,
        account_no,
        signal.strategy,
        account_no,
        signal.strategy,
        [str(s) for s in (*OPEN_STATUSES, OrderStatus.NEW)],
        account_no,
        signal.code,
        signal.strategy,
        account_no,
        signal.code,
        account_no,
        signal.code,
        [str(s) for s in (*OPEN_STATUSES, OrderStatus.NEW)],
    ]
    return sql, params


def _fallback_key(signal: Signal) -> str:
    day = signal.at.astimezone(krx.KST).date().isoformat()
    return f"{signal.strategy}:{signal.code}:{day}:{signal.side}:{signal.at.isoformat()}"


def _gate_reason(gate: dict[str, Any]) -> dict[str, str]:
    if not gate["switch"]:
        return {"code": "gate_closed", "message": "자동매매 스위치가 꺼져 있습니다"}
    return {"code": "risk_state", "message": f"리스크 상태 {gate['state']}: 신규 진입 불가"}


_INSTRUMENTS: dict[str, tuple[float, tuple[str, str]]] = {}
INSTRUMENT_TTL_SECONDS = 600.0


def _instrument_cached(code: str) -> tuple[str, str] | None:
    hit = _INSTRUMENTS.get(code)
    if hit is not None and time.monotonic() - hit[0] < INSTRUMENT_TTL_SECONDS:
        return hit[1]
    return None


def _instrument(code: str) -> tuple[str, str]:
    """(market, name) of the code, cached a few minutes per process (the hot path pays no query)."""
    hit = _instrument_cached(code)
    if hit is not None:
        return hit
    from apps.market.models import Instrument

    row = Instrument.objects.filter(code=code).values_list("market", "name").first()
    market = row[0] if row and row[0] in krx.Market.__members__ else krx.Market.KOSPI.value
    value = (market, row[1] if row else "")
    _INSTRUMENTS[code] = (time.monotonic(), value)
    return value


def build_intent(
    signal: Signal,
    prepared: Prepared,
    plan: OrderPlan,
    reference: int,
    news: int | None,
    rank: int | None,
) -> OrderIntent:
    return OrderIntent(
        code=signal.code,
        side=signal.side,
        quantity=plan.quantity,
        order_type=OrderType.LIMIT,
        price=plan.price,
        account_no=prepared.account_no,
        name=prepared.name,
        strategy_tag=signal.strategy,
        cause=Cause.SIGNAL,
        cause_ref=str(prepared.row_id),
        idempotency_key=idempotency_key(signal.key or str(prepared.row_id)),
        reference_price=reference,
        news_score=news,
        volume_rank=rank,
        extra={"reason": signal.reason[:200]},
    )


# --------------------------------------------------------------------------------- the whole path
@dataclass
class ExecutionContext:
    """What the handler hands to `asignal_execute` (all read on the event loop)."""

    account_no: str
    strategies: dict[str, StrategySettings]
    place: Callable[..., Awaitable[Any]]
    prepare: Callable[[], Awaitable[Any]] | None = None
    last_price: Callable[[str, dt.datetime], tuple[int, int | None] | None] = lambda c, a: None
    candidate: Callable[[str], tuple[int | None, int | None]] = lambda c: (None, None)


@dataclass(frozen=True)
class Executed:
    row_id: int | None  # None: the key existed (handled before)
    status: str
    order_id: Any = None


async def asignal_execute(signal: Signal, ctx: ExecutionContext) -> Executed:
    """Signal → row → gate → sizing → order → outcome (see the module docstring)."""
    with gcpause.paused():  # the collector waits until the order is out (apps.core.gcpause)
        return await _execute(signal, ctx)


async def _execute(signal: Signal, ctx: ExecutionContext) -> Executed:
    strategy = ctx.strategies.get(signal.strategy)
    features = dict(signal.features)
    rank, news = _rank_news(features, ctx.candidate(signal.code))
    if news is not None or signal.side != "buy":
        led = await _execute_led(signal, ctx, strategy, features, news, rank)
        if led is not None:
            return led
    looked_up: asyncio.Future[int | None] | None = None
    if news is None and signal.side == "buy":
        from . import feeds

        # Looked up (Redis, or the news service) while the signal row commits: neither waits for
        # the other. Never cancelled — a lookup given up counts the news service as too slow —
        # only left to finish (bounded by its own timeout) when the signal goes no further.
        looked_up = asyncio.ensure_future(feeds.aget_news_score(signal.code))
    prepared = await asignal_prepare(
        signal,
        account_no=ctx.account_no,
        strategy_version=strategy.version if strategy else None,
        features=features,
    )
    if prepared is None:
        return Executed(None, "duplicate")
    if prepared.status == SignalStatus.GATED:
        return Executed(prepared.row_id, SignalStatus.GATED)
    if looked_up is not None:
        news = await looked_up
    plan, reference = _plan(signal, ctx, strategy, prepared)
    if plan.refusal is not None:
        await db_call(signal_outcome, prepared.row_id, refused=[plan.refusal])
        return Executed(prepared.row_id, SignalStatus.REJECTED)
    intent = build_intent(signal, prepared, plan, reference, news, rank)
    return await _submitted(
        signal,
        lambda: prepared.row_id,
        intent.idempotency_key or "",
        aorder_submit(intent, ctx.place, prepare=ctx.prepare),
    )


def _plan(
    signal: Signal,
    ctx: ExecutionContext,
    strategy: StrategySettings | None,
    prepared: Prepared,
) -> tuple[OrderPlan, int]:
    """The signal's sizing (pure) and its reference price (the signal's, else the last tick's)."""
    last = ctx.last_price(signal.code, signal.at)
    reference = signal.price or (last[0] if last else None)
    limits = None
    if last is not None and last[1]:
        day = signal.at.astimezone(krx.KST).date()
        limits = krx.price_limits(last[1], prepared.market, day)
    plan = plan_order(signal, prepared, strategy, reference, limits)
    return plan, reference or 0


async def _execute_led(
    signal: Signal,
    ctx: ExecutionContext,
    strategy: StrategySettings | None,
    features: dict[str, Any],
    news: int | None,
    rank: int | None,
) -> Executed | None:
    """The whole path with the signal's statement leading the order's transaction
    (`aorder_submit_led`: one round trip fewer) when everything it needs is known on the loop: the
    news score, the signal's key, the instrument and the order's planning caches. None: not taken
    (or the connection failed before the signal's row was known): the caller takes the slow path,
    which finds the row if it was made (a duplicate then: never a second entry)."""
    cached = _instrument_cached(signal.code)
    if cached is None or not signal.key or not order_plan_ready(signal.code, ctx.account_no):
        return None
    market, name = cached
    day = signal.at.astimezone(krx.KST).date()
    version = strategy.version if strategy else None
    lead = _prepare_statement(signal, day, ctx.account_no, version, name, features)
    key = idempotency_key(signal.key)
    seen: dict[str, Any] = {}

    def decide(row: tuple[Any, ...] | None) -> OrderIntent | None:
        assert row is not None  # the statement always returns its row
        seen["row"] = row
        if row[0] is None or _gated(signal, row):
            return None  # handled before; or a gated entry (its row marked below, in the thread)
        prepared = _prepared(signal, row, ctx.account_no, market, name)
        assert prepared is not None
        plan, reference = _plan(signal, ctx, strategy, prepared)
        if plan.refusal is not None:
            seen["refusal"] = plan.refusal
            return None
        return build_intent(signal, prepared, plan, reference, news, rank)

    submit = aorder_submit_led(
        lead, decide, ctx.place, account=ctx.account_no, idempotency_key=key, prepare=ctx.prepare
    )
    try:
        made = await _submitted(
            signal, lambda: seen["row"][0] if "row" in seen else None, key, submit
        )
    except LeadFailed:
        log.warning("strategy: signal %s: the order connection failed; retrying", signal.key)
        return None
    row = seen["row"]
    if row[0] is None:
        return Executed(None, "duplicate")
    if made is not None:
        return made
    if "refusal" in seen:
        await db_call(signal_outcome, row[0], refused=[seen["refusal"]])
        return Executed(row[0], SignalStatus.REJECTED)
    await db_call(_prepared, signal, row, ctx.account_no, market, name)  # gated: marked there
    return Executed(row[0], SignalStatus.GATED)


async def _submitted(
    signal: Signal,
    row_of: Callable[[], int | None],
    key: str,
    submit: Awaitable[Order | None],
) -> Executed | None:
    """Await the order's submission and record the signal's outcome on its row (`row_of()`: None
    while the row is not known — the led path before its first round trip's reply). None: no order
    was made (the led path's decision)."""
    try:
        order = await submit
    except (asyncio.CancelledError, LeadFailed):
        raise
    except Exception as exc:
        row_id = row_of()
        if row_id is None:
            raise  # the signal's own statement failed: no row to record an outcome on
        if isinstance(exc, OrderRefused):
            log.info("strategy: signal %s refused: %s", signal.key, exc.reason)
            await db_call(signal_outcome, row_id, refused=list(exc.reasons))
            return Executed(row_id, SignalStatus.REJECTED)
        log.exception("strategy: signal %s failed", signal.key)
        await db_call(signal_outcome, row_id, error=repr(exc), idem_key=key)
        return Executed(row_id, SignalStatus.FAILED)
    if order is None:
        return None
    row_id = row_of()
    assert row_id is not None  # an order is made only after its signal's row
    await db_call(signal_outcome, row_id, order_id=order.pk)
    return Executed(row_id, SignalStatus.ACCEPTED, order.pk)


def _rank_news(
    features: dict[str, Any], candidate: tuple[int | None, int | None]
) -> tuple[int | None, int | None]:
    rank = features.get("rank", features.get("volume_rank"))
    news = features.get("news_score")
    rank = int(rank) if isinstance(rank, int | float) else candidate[0]
    news = int(news) if isinstance(news, int | float) else candidate[1]
    return rank, news
