"""Emergency liquidation ("sell everything"): cancel every open order, then sell every holding.

One business action in three steps, each one short and resumable:

1. `liquidation_request(user, reason, idempotency_key)` (the API, the page, `manage.py flatten`): claims
   the account's liquidation lock in Redis (SET NX: two concurrent requests, a double click, or a retry
   with the same `Idempotency-Key` all get the one run), records the run, closes the trading gate (the
   `trading-enabled` switch off with the reason, journalled, so no new entry starts) and queues
   `risk.liquidate` on the `orders` queue after commit. Returns (run, created).
2. `liquidation_run(run_id)` (the task): claims the run (queued → running, once), cancels every open
   order of the account — buys, and sells (they hold quantity the liquidation must sell at its own
   price) — waiting for orders still on their way (`submitted`, `cancel_pending`) to settle, then sells
   every position's whole quantity at a marketable limit price (`RISK_LIQUIDATION_SLIPPAGE_PCT` below
   the quote, on the tick grid, never below the day's lower limit), split into child orders of at most
   `RISK_LIQUIDATION_MAX_ORDER_KRW` (the executor's `order_split_submit`). Every sell has the idempotency
   key `liquidation:<run>:<code>[:i]`, so a redelivered task or a second run of the same id sends
   nothing twice; cause `liquidation` (exits: no entry limit applies).
3. `liquidation_check(run_id)` (queued again every 2 s by the task until everything is flat or
   `RISK_LIQUIDATION_WATCH_SECONDS` passed): reads positions and the sells, reports progress, and ends
   the run `done` (flat) or `incomplete`, with what could not be sold and why (하한가 lock, VI, halted,
   refused by the broker, still resting), and releases the lock. A holding whose sell rests while its
   stock is in a VI (`apps.risk.vi`) carries the reason `VI_REASON` as long as the VI lasts.

Progress goes to /ws/live as `liquidation_progress` (the run's whole state, see `LiquidationRun.as_dict`)
after each step. The run lives in Redis (`risk:liquidation:*`, kept 7 days): the orders themselves are the
durable record (cause `liquidation`, `cause_ref` = the run id).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

import krx
from apps.core.live import publish_after_commit, publish_soon
from apps.core.rediskeys import redis_key
from apps.core.services import FlagError
from apps.trades.models import OPEN_STATUSES, Cause, Order, OrderStatus, OrderType, Position
from apps.trades.services import OrderIntent, OrderRefused, order_cancel, order_split_submit
from apps.trades.services.executor import default_account

from ..exits import exit_limit_price
from ..snapshot import TRADING_FLAG
from ..vi import vi_active, vi_current

log = logging.getLogger(__name__)

__all__ = [
    "LiquidationRun",
    "liquidation_check",
    "liquidation_current",
    "liquidation_request",
    "liquidation_run",
]

PROGRESS_EVENT = "liquidation_progress"
RUN_TTL_SECONDS = 7 * 24 * 3600
CHECK_EVERY_SECONDS = 2.0
CANCELLABLE = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
FINISHED = ("done", "incomplete", "failed")
VI_REASON = "VI 발동 중: 단일가 매매(약 2분) 동안 매도 주문이 체결되지 않고 대기합니다"


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


@dataclass
class Line:
    """One holding's liquidation."""

    code: str
    name: str = ""
    quantity: int = 0  # held when the sell was sent
    price: int | None = None  # the limit price sent
    orders: int = 0
    sold: int = 0
    left: int = 0
    state: str = "pending"  # pending | sent | sold | blocked | resting
    reason: str = ""


@dataclass
class LiquidationRun:
    id: str
    account: str
    reason: str
    requested_by: str
    created_at: str
    status: str = "queued"  # queued | cancelling | selling | watching | done | incomplete | failed
    cancel_total: int = 0
    cancelled: int = 0
    cancel_failed: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    message: str = ""
    finished_at: str | None = None
    checks: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The `liquidation_progress` message and the API's body."""
        data = asdict(self)
        data["positions_total"] = len(self.lines)
        data["sold_out"] = sum(1 for line in self.lines if line.state == "sold")
        data["unsold"] = [
            asdict(line) for line in self.lines if line.state in ("blocked", "resting")
        ]
        data["finished"] = self.status in FINISHED
        return data

    @classmethod
    def from_json(cls, raw: bytes | str) -> LiquidationRun:
        data = json.loads(raw)
        lines = [Line(**line) for line in data.pop("lines", [])]
        return cls(**data, lines=lines)


# ------------------------------------------------------------------------------------------- storage
_clients: dict[str, redis.Redis] = {}


class _Shared:
    """The process's client for `REDIS_URL` (a pool: thread-safe, connections reused); `close()` is a
    no-op so callers keep the `try/finally: close()` shape."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def close(self) -> None:
        return None


def _redis() -> Any:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=5)
    return _Shared(client)


def _key(*parts: str) -> str:
    return redis_key("stockagent", "risk", "liquidation", *parts)


def _save(client: Any, run: LiquidationRun) -> None:
    client.set(_key("run", run.id), json.dumps(asdict(run)), ex=RUN_TTL_SECONDS)
    client.set(_key("last", run.account), run.id, ex=RUN_TTL_SECONDS)


def _load(client: Any, run_id: str) -> LiquidationRun | None:
    raw = client.get(_key("run", run_id))
    return LiquidationRun.from_json(raw) if raw else None


def _publish(run: LiquidationRun) -> None:
    # A snapshot of the whole run: an unsent older one of the same run is replaced (never blocks).
    publish_soon(PROGRESS_EVENT, run.as_dict(), key=run.id)


def liquidation_get(run_id: str) -> LiquidationRun | None:
    client = _redis()
    try:
        return _load(client, run_id)
    finally:
        client.close()


def liquidation_current(account: str | None = None) -> LiquidationRun | None:
    """The account's running liquidation, else its last one (the page and `GET` of the API)."""
    account = account or default_account()
    client = _redis()
    try:
        run_id = client.get(_key("active", account)) or client.get(_key("last", account))
        return _load(client, run_id.decode()) if run_id else None
    finally:
        client.close()


# ------------------------------------------------------------------------------------------- request
# Replace the lock's value only if it still names the run we found stale (compare and set).
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def _take_lock(client: Any, account: str, run_id: str, ttl: int) -> LiquidationRun | None:
    """Take the account's liquidation lock for `run_id`; None when taken, else the running run."""
    active = _key("active", account)
    for _ in range(10):
        if client.set(active, run_id, nx=True, ex=ttl):
            return None
        running = client.get(active)
        if running is None:
            continue  # released meanwhile: try again
        existing = _load(client, running.decode())
        if existing is not None:
            return existing
        # The lock names a run whose record expired: take it over, unless another request did first.
        if client.eval(_TAKE_OVER, 1, active, running, run_id, ttl):
            return None
    raise RuntimeError("could not take the emergency liquidation lock")


def liquidation_request(
    user: Any,
    reason: str,
    idempotency_key: str | None = None,
    *,
    account: str | None = None,
    enqueue: bool = True,
) -> tuple[LiquidationRun, bool]:
    """Start the account's emergency liquidation, or return the one already running (created=False).
    Must not run inside a transaction that could roll back after the lock is taken."""
    account = account or default_account()
    reason = (reason or "").strip()[:200] or "비상 전체 청산"
    who = getattr(user, "username", "") or "system"
    client = _redis()
    try:
        if idempotency_key:
            known = client.get(_key("key", idempotency_key))
            if known:
                run = _load(client, known.decode())
                if run is not None:
                    return run, False
        run = LiquidationRun(
            id=uuid.uuid4().hex,
            account=account,
            reason=reason,
            requested_by=who,
            created_at=timezone.now().isoformat(),
        )
        lock_ttl = int(_setting("RISK_LIQUIDATION_LOCK_SECONDS", 900))
        # The run's record is written before the lock is taken, so a lock never names a run that
        # cannot be read: a second request that loses the race finds the winner's record and joins
        # it (it used to find no record yet, take the lock over as "expired" and start a second run).
        client.set(_key("run", run.id), json.dumps(asdict(run)), ex=RUN_TTL_SECONDS)
        existing = _take_lock(client, account, run.id, lock_ttl)
        if existing is not None:
            client.delete(_key("run", run.id))
            if idempotency_key:
                client.set(_key("key", idempotency_key), existing.id, ex=RUN_TTL_SECONDS)
            return existing, False
        _save(client, run)
        if idempotency_key:
            client.set(_key("key", idempotency_key), run.id, ex=RUN_TTL_SECONDS)
    finally:
        client.close()
    _close_gate(user, run)
    if enqueue:
        from ..tasks import liquidate

        transaction.on_commit(lambda: liquidate.delay(run.id))
    publish_after_commit(PROGRESS_EVENT, run.as_dict(), key=run.id)
    log.warning("emergency liquidation %s of %s requested by %s: %s", run.id, account, who, reason)
    return run, True


def _close_gate(user: Any, run: LiquidationRun) -> None:
    # Through the trading gate (journalled, notified, pushed as `risk_state`): the trader's switch off.
    from .gate import switch_set

    try:
        switch_set(
            False,
            user=user if getattr(user, "pk", None) else None,
            reason=f"비상 전체 청산 {run.id[:8]}: {run.reason}",
        )
    except FlagError:
        log.error("liquidation %s: the %s switch does not exist", run.id, TRADING_FLAG)


# ------------------------------------------------------------------------------------------- run
def liquidation_run(
    run_id: str, broker: Any = None, *, schedule_checks: bool = True
) -> LiquidationRun:
    """The task's body: cancel every open order, then sell every holding. Runs once per run id (a
    redelivered task returns the run as it is)."""
    client = _redis()
    try:
        if not client.set(_key("claim", run_id), "1", nx=True, ex=RUN_TTL_SECONDS):
            run = _load(client, run_id)
            if run is None:
                raise LookupError(run_id)
            return run
        run = _load(client, run_id)
        if run is None:
            raise LookupError(run_id)
        if broker is None:
            from apps.broker.backends import get_broker

            broker = get_broker()
        try:
            _cancel_all(client, run, broker)
            _sell_all(client, run, broker)
        except Exception as exc:
            log.exception("liquidation %s failed", run_id)
            run.status, run.message = "failed", f"오류: {exc!r}"[:300]
            _finish(client, run)
            return run
        run.status = "watching"
        _save(client, run)
        _publish(run)
    finally:
        client.close()
    if schedule_checks:
        from ..tasks import liquidation_check as check_task

        check_task.apply_async((run.id,), countdown=CHECK_EVERY_SECONDS)
    return run


def _open_orders(account: str) -> list[Order]:
    return list(
        Order.objects.filter(account_no=account, status__in=OPEN_STATUSES).order_by("created_at")
    )


def _stop_pending(run: LiquidationRun, broker: Any) -> int:
    """Stop what would still send orders: running split parents (their schedules) and `new` orders
    queued for `trades.order_send` (rejected before they are claimed: the claim is conditional)."""
    from apps.trades.models import SPLIT_OPEN_STATUSES, SplitOrder
    from apps.trades.services.split import split_cancel
    from apps.trades.services.state import transition

    stopped = 0
    for split_id in SplitOrder.objects.filter(
        account_no=run.account, status__in=SPLIT_OPEN_STATUSES
    ).values_list("pk", flat=True):
        try:
            split_cancel(split_id, broker=broker, cause=f"liquidation:{run.id}")
            stopped += 1
        except OrderRefused as exc:
            log.info("liquidation %s: split %s not cancelled: %s", run.id, split_id, exc.reason)
    for order_id in Order.objects.filter(
        account_no=run.account, status=OrderStatus.NEW
    ).values_list("pk", flat=True):
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            if order.status == OrderStatus.NEW:
                transition(order, OrderStatus.REJECTED, cause=f"liquidation:{run.id}")
                stopped += 1
    return stopped


def _cancel_all(client: Any, run: LiquidationRun, broker: Any) -> None:
    run.status = "cancelling"
    _stop_pending(run, broker)
    orders = _open_orders(run.account)
    run.cancel_total = len(orders)
    _save(client, run)
    _publish(run)
    deadline = time.monotonic() + float(_setting("RISK_LIQUIDATION_CANCEL_WAIT_SECONDS", 10))
    asked: set[uuid.UUID] = set()
    while True:
        pending = 0
        for order in _open_orders(run.account):
            if order.status in CANCELLABLE and order.pk not in asked:
                asked.add(order.pk)
                try:
                    order_cancel(
                        order.pk, cause=f"liquidation:{run.id}", cancel=broker.cancel_order
                    )
                except OrderRefused as exc:
                    log.info(
                        "liquidation %s: cancel of %s refused: %s", run.id, order.pk, exc.reason
                    )
            pending += 1
        done = len(asked) - _still_open(run.account, asked)
        if done != run.cancelled:
            run.cancelled = done
            _save(client, run)
            _publish(run)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    left = _open_orders(run.account)
    run.cancelled = max(run.cancel_total - len(left), 0)
    run.cancel_failed = [
        f"{o.code} {o.get_side_display()} {o.remaining}주 ({o.get_status_display()})" for o in left
    ]
    _save(client, run)
    _publish(run)


def _still_open(account: str, ids: set[uuid.UUID]) -> int:
    return Order.objects.filter(account_no=account, pk__in=ids, status__in=OPEN_STATUSES).count()


def _sell_all(client: Any, run: LiquidationRun, broker: Any) -> None:
    run.status = "selling"
    positions = list(
        Position.objects.filter(account_no=run.account, quantity__gt=0).order_by("code")
    )
    run.lines = [Line(code=p.code, name=p.name, quantity=p.quantity) for p in positions]
    _save(client, run)
    _publish(run)
    for position, line in zip(positions, run.lines, strict=True):
        _sell_one(run, position, line, broker)
        _save(client, run)
        _publish(run)


def _sell_one(run: LiquidationRun, position: Position, line: Line, broker: Any) -> None:
    position.refresh_from_db()
    qty = position.quantity - position.reserved
    line.quantity = position.quantity
    if qty <= 0:
        line.state, line.reason = (
            "blocked",
            "매도가능수량 없음: 취소되지 않은 매도 주문이 수량을 잡고 있습니다",
        )
        return
    halted, blocker = _instrument_blocker(position.code)
    if halted:
        line.state, line.reason, line.left = "blocked", blocker, position.quantity
        return
    try:
        quote = broker.quote(position.code)
    except Exception as exc:
        quote = None
        log.warning("liquidation %s: quote of %s failed: %r", run.id, position.code, exc)
    market = position.market if position.market in krx.Market.__members__ else "KOSPI"
    day = timezone.localdate()
    reference = (quote.price if quote else None) or position.current_price
    lower = quote.lower_limit if quote else None
    if reference:
        price: int | None = exit_limit_price(
            reference,
            Decimal(str(_setting("RISK_LIQUIDATION_SLIPPAGE_PCT", "3"))),
            lower,
            market,
            day,
        )
        order_type = OrderType.LIMIT
    else:
        price, order_type = None, OrderType.MARKET
    if quote and quote.price and lower and quote.price <= lower:
        line.reason = f"하한가 {lower:,}원: 매도 잔량이 쌓여 체결되지 않을 수 있습니다"
    line.price = price
    max_value = int(_setting("RISK_LIQUIDATION_MAX_ORDER_KRW", 50_000_000))
    value = qty * (price or reference or 0)
    parts = max(1, min(qty, math.ceil(value / max_value))) if max_value > 0 and value else 1
    intent = OrderIntent(
        code=position.code,
        side="sell",
        quantity=qty,
        order_type=order_type,
        price=price,
        account_no=run.account,
        name=position.name,
        strategy_tag=position.strategy_tag,
        cause=Cause.LIQUIDATION,
        cause_ref=run.id,
        idempotency_key=f"liquidation:{run.id}:{position.code}",
        reference_price=reference or None,
    )
    try:
        orders = (
            order_split_submit(intent, parts, broker.place_order)
            if parts > 1
            else [_submit_once(intent, broker)]
        )
    except OrderRefused as exc:
        line.state, line.reason, line.left = (
            "blocked",
            f"주문 거부: {exc.reason}",
            position.quantity,
        )
        return
    line.orders = len(orders)
    refused = [o for o in orders if o.status == OrderStatus.REJECTED]
    line.state = "sent"
    if vi_active(position.code):
        line.reason = VI_REASON
    if refused and len(refused) == len(orders):
        line.state = "blocked"
        line.reason = _broker_reason(refused[0].message) or line.reason
        line.left = position.quantity


def _submit_once(intent: OrderIntent, broker: Any) -> Order:
    from apps.trades.services import order_submit

    return order_submit(intent, broker.place_order)


def _instrument_blocker(code: str) -> tuple[bool, str]:
    from apps.market.models import Instrument

    row = Instrument.objects.filter(code=code).values_list("is_halted", flat=True).first()
    if row:
        return True, "거래정지 종목: 매도할 수 없습니다"
    return False, ""


def _broker_reason(message: str) -> str:
    text = message or ""
    if "VI" in text or "변동성" in text:
        return f"VI 발동 중: {text}"
    if "정지" in text:
        return f"거래정지: {text}"
    if "하한" in text:
        return f"하한가: {text}"
    return f"주문 거부: {text}" if text else "주문 거부"


# ------------------------------------------------------------------------------------------- check
def liquidation_check(run_id: str, *, final: bool | None = None) -> LiquidationRun | None:
    """Report how far the sells got; end the run when everything is flat or the watch time is over.
    Returns the run (None when it is unknown). `final=True` ends it now whatever is left."""
    client = _redis()
    try:
        run = _load(client, run_id)
        if run is None or run.status in FINISHED:
            return run
        run.checks += 1
        held = dict(
            Position.objects.filter(account_no=run.account, quantity__gt=0).values_list(
                "code", "quantity"
            )
        )
        open_sells = set(
            Order.objects.filter(
                account_no=run.account, cause=Cause.LIQUIDATION, cause_ref=run.id,
                status__in=OPEN_STATUSES,
            ).values_list("code", flat=True)
        )  # fmt: skip
        in_vi = {state.code for state in vi_current()}
        for line in run.lines:
            left = held.get(line.code, 0)
            line.left = left
            line.sold = max(line.quantity - left, 0)
            if not left:
                line.state, line.reason = "sold", ""
            elif line.state != "blocked":
                line.state = "sent" if line.code in open_sells else "resting"
                # The sell rests through the VI's single-price auction: say so while it lasts.
                if line.code in in_vi:
                    line.reason = VI_REASON
                elif line.reason == VI_REASON:
                    line.reason = ""
        started = dt.datetime.fromisoformat(run.created_at)
        watch = float(_setting("RISK_LIQUIDATION_WATCH_SECONDS", 120))
        over = final if final is not None else (timezone.now() - started).total_seconds() > watch
        if not held or over:
            for line in run.lines:
                if line.left and line.state == "sent":
                    line.state = "resting"
                    line.reason = line.reason or "매도 주문이 아직 체결되지 않았습니다"
            run.status = "done" if not held else "incomplete"
            _finish(client, run)
            return run
        _save(client, run)
        _publish(run)
    finally:
        client.close()
    return run


def _finish(client: Any, run: LiquidationRun) -> None:
    run.finished_at = timezone.now().isoformat()
    _save(client, run)
    # Release the lock only if it is still this run's.
    if (client.get(_key("active", run.account)) or b"").decode() == run.id:
        client.delete(_key("active", run.account))
    _publish(run)
    log.warning("emergency liquidation %s: %s", run.id, run.status)
