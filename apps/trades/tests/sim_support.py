"""The trades app against the simulator, for tests and benches (it lives under tests/: only tests may
reach the simulator and the Kiwoom client directly): a live 00-frame collector (`Feed`), the simulator
with a broker bound to it (`trading_sim`), and the fault run (`fault_run`).

`fault_run(n)` drives `n` orders through the executor while the simulator misbehaves — replies lost
after the order was accepted (connection closed, or held until the client's time limit), 5xx and 429
answers to order calls and reads, dropped WebSocket sessions, and a sender "killed" mid-call (the order
claimed and sent, its outcome never recorded, as after `kill -9`) — applying 00 frames as they come and
reconciling whenever an `unknown` order blocks its (code, side) and at the end. It returns the checks
the issue asks for: duplicate orders, lost fills, local positions versus the simulator's holdings.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.contract import OrderEvent
from apps.broker.simulator.adapter import default_start
from apps.broker.simulator.server import ServerConfig
from apps.broker.simulator.testing import SimHandle, simulator_in_thread
from apps.trades.models import Order, OrderStatus, Position
from apps.trades.services import (
    Applied,
    OrderIntent,
    OrderRefused,
    order_cancel,
    order_create,
    order_submit,
    reconcile,
    report_apply,
    report_from_event,
)


@dataclass
class Feed:
    """Collects the account's 00 frames on a loop thread; `apply()` hands them to the books in arrival
    order from the caller's thread (its database connection)."""

    broker: KiwoomBroker
    events: list[OrderEvent] = field(default_factory=list)
    unmatched: list[Any] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    feed: Any = None

    def _on_event(self, event: Any) -> None:
        if isinstance(event, OrderEvent):
            with self._lock:
                self.events.append(event)
                self.received += 1

    def start(self) -> None:
        threading.Thread(target=self.loop.run_forever, daemon=True, name="trades-feed").start()
        self.feed = self.broker.realtime(self._on_event)
        self.call(self.feed.start())
        self.call(self.feed.subscribe_account())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        if self.feed is not None:
            with contextlib.suppress(Exception):  # shutting down a test feed
                self.call(self.feed.close())
        self.loop.call_soon_threadsafe(self.loop.stop)

    def take(self) -> list[OrderEvent]:
        with self._lock:
            out, self.events = self.events, []
        return out

    def apply(self) -> int:
        """Apply what arrived (and retry frames that came before their ack). Returns how many."""
        batch = self.unmatched + [report_from_event(e) for e in self.take()]
        self.unmatched = []
        for report in batch:
            if report_apply(report) is Applied.UNMATCHED:
                self.unmatched.append(report)
        return len(batch)

    def settle(self, until: Callable[[], bool], wait: float = 10.0) -> bool:
        """Apply frames as they arrive until `until()` holds (waits at most `wait` seconds)."""
        deadline = time.monotonic() + wait
        while True:
            self.apply()
            if until():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


@contextmanager
def trading_sim(
    day: dt.date,
    at: dt.time = dt.time(9, 5),
    participation: str = "0.01",
    *,
    client: dict[str, Any] | None = None,
    **config: Any,
) -> Iterator[tuple[SimHandle, KiwoomBroker, Feed]]:
    """The simulator in a thread (frozen clock at `day` `at` KST), a `KiwoomBroker` on it and a started
    `Feed`."""
    from apps.broker.tests.client_support import cleanup_prefix, client_config

    cfg = ServerConfig(rate_limit_per_s=None, ping_interval_s=3600, **config)
    with simulator_in_thread(
        config=cfg,
        start=default_start(day, at),
        use_krx_calendar=False,
        participation=Decimal(participation),
    ) as sim:
        broker = KiwoomBroker(client_config(sim, **{"timeout_seconds": 5.0, **(client or {})}))
        seed_base_prices(broker, day)  # every stock: tests buy across the universe
        feed = Feed(broker)
        feed.start()
        try:
            yield sim, broker, feed
        finally:
            feed.stop()
            broker.close()
            asyncio.run(cleanup_prefix(broker.config.key_prefix))


def seed_base_prices(
    broker: KiwoomBroker, day: dt.date, codes: tuple[str, ...] | None = None
) -> None:
    """The risk engine values a market buy at the day's upper limit: give it the simulator's base prices
    (previous-day bars), as the demo's seed and the daily-bar import do. Without `codes`: every stock of
    the simulator's list (two reads, ka10099 per market)."""
    from apps.risk.testing import seed_base_price
    from krx import Market

    if codes is None:
        for market in (Market.KOSPI, Market.KOSDAQ):
            for instrument in broker.instruments(market):
                if instrument.previous_close:
                    seed_base_price(
                        instrument.code, instrument.previous_close, day - dt.timedelta(days=1)
                    )
        return
    for code in codes:
        base = broker.quote(code).base_price
        if base:
            seed_base_price(code, base, day - dt.timedelta(days=1))


# ------------------------------------------------------------------------------------------ fault run
FAULT_KINDS = ("lost_close", "lost_hang", "order_5xx", "order_429", "read_5xx", "drop_ws", "killed")
ORDER_TRS = ["kt10000", "kt10001"]


@dataclass
class FaultRunResult:
    orders: int = 0
    refused: int = 0
    faults: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    reconciles: int = 0
    broker_orders: int = 0
    duplicate_orders: int = 0
    untracked_broker_orders: int = 0
    lost_fills: int = 0
    fill_mismatches: list[str] = field(default_factory=list)
    local_positions: dict[str, int] = field(default_factory=dict)
    broker_positions: dict[str, int] = field(default_factory=dict)
    unresolved: int = 0
    seconds: float = 0.0

    @property
    def positions_match(self) -> bool:
        return self.local_positions == self.broker_positions

    def summary(self) -> str:
        return (
            f"orders={self.orders} (refused {self.refused}) broker_orders={self.broker_orders} "
            f"duplicates={self.duplicate_orders} untracked={self.untracked_broker_orders} "
            f"lost_fills={self.lost_fills} unresolved={self.unresolved} "
            f"positions_match={self.positions_match} reconciles={self.reconciles} "
            f"faults={dict(self.faults)} outcomes={dict(self.outcomes)} in {self.seconds:.1f}s"
        )


def fault_run(
    sim: SimHandle,
    broker: KiwoomBroker,
    feed: Feed,
    n: int,
    *,
    seed: int = 7,
    codes: tuple[str, ...] = ("005930", "000660", "035420", "051910"),
    fault_every: int = 4,
    orders: AsyncOrders | None = None,
) -> FaultRunResult:
    """`orders`: the intents go through the realtime process's async path (`aorder_submit` on the
    feed's loop, its single round trip included) instead of `order_submit`; the snapshot is refreshed
    after every other batch of frames, as the trades handler does after order events (the other
    batches leave it changed: the single round trip's guard)."""
    rng = random.Random(seed)
    account = sim.account
    seed_base_prices(broker, dt.date(2000, 1, 4), tuple(codes))
    out = FaultRunResult()
    started = time.monotonic()
    kinds = list(FAULT_KINDS)

    def recon() -> None:
        for _ in range(5):
            out.reconciles += 1
            result = reconcile(
                broker, account_no=account, unknown_grace_seconds=0, submitted_grace_seconds=0
            )
            if not result.run.error:
                return
            time.sleep(0.05)

    for i in range(n):
        code = rng.choice(codes)
        held = Position.objects.filter(account_no=account, code=code).first()
        sellable = held.sellable if held else 0
        side = "sell" if sellable and rng.random() < 0.45 else "buy"
        qty = rng.randint(1, min(sellable, 5)) if side == "sell" else rng.randint(1, 5)
        resting = side == "buy" and rng.random() < 0.15
        price = None
        if resting:
            price = _resting_price(broker, code)
        intent = OrderIntent(
            code=code,
            side=side,
            quantity=qty,
            order_type="limit" if price else "market",
            price=price,
            account_no=account,
            strategy_tag="fault-run",
        )
        kind = kinds[i // fault_every % len(kinds)] if i % fault_every == 0 else ""
        if kind:
            out.faults[kind] += 1
            _arm(sim, kind)
        try:
            if kind == "killed":
                order = _killed_mid_call(intent, broker)
            elif orders is not None:
                order = orders.submit(intent)
            else:
                order = order_submit(intent, broker.place_order)
        except OrderRefused:
            out.refused += 1
            recon()
            continue
        finally:
            sim.faults.reset()
        out.orders += 1
        out.outcomes[order.status] += 1
        if order.status == OrderStatus.UNKNOWN or kind == "killed":
            recon()
        if resting and order.status == OrderStatus.ACCEPTED:
            order_cancel(order.pk, cancel=broker.cancel_order)
        if i % 5 == 4:
            sim.advance_sync(seconds=1)
        feed.apply()
        if orders is not None and i % 2:
            orders.refresh()
    # Let everything settle: move the market, apply the frames, reconcile until nothing is unknown.
    sim.advance_sync(seconds=5)
    feed.settle(lambda: False, wait=1.0)
    for _ in range(3):
        recon()
        feed.apply()
        if not Order.objects.filter(account_no=account, status=OrderStatus.UNKNOWN).exists():
            break
    _check(sim, broker, account, out)
    out.seconds = time.monotonic() - started
    return out


class AsyncOrders:
    """`aorder_submit` on the feed's event loop with the feed's async REST client (its `order_slot`):
    the realtime process's order path, driven from the fault run's thread."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        rest = feed.feed._rest
        self.place, self.prepare = rest.place_order, rest.order_slot

    def submit(self, intent: OrderIntent) -> Order:
        from apps.trades.services import aorder_submit

        return self.feed.call(aorder_submit(intent, self.place, prepare=self.prepare))

    def refresh(self) -> None:
        from apps.trades.services import orderconn

        self.feed.call(orderconn.refresh())

    def close(self) -> None:
        from apps.trades.services.aorder import aorder_db_close

        self.feed.call(aorder_db_close())


def _resting_price(broker: KiwoomBroker, code: str) -> int | None:
    import krx

    quote = broker.quote(code)
    if not quote.price:
        return None
    below = int(quote.price * 0.95)
    return krx.tick_round(below, "KOSPI", dt.date(2025, 11, 3), "down")


def _arm(sim: SimHandle, kind: str) -> None:
    faults = sim.faults
    if kind == "lost_close":
        faults.set(lost_order_replies=1, lost_reply_mode="close")
    elif kind == "lost_hang":
        faults.set(lost_order_replies=1, lost_reply_mode="hang")
    elif kind == "order_5xx":
        faults.set(http_5xx=1, api_ids=ORDER_TRS)
    elif kind == "order_429":
        faults.set(http_429=1, api_ids=ORDER_TRS)
    elif kind == "read_5xx":
        faults.set(http_5xx=1, api_ids=["ka10075", "ka10076", "kt00018", "ka10001"])
    elif kind == "drop_ws":
        sim.call(faults.drop_websockets)


def _killed_mid_call(intent: OrderIntent, broker: KiwoomBroker) -> Order:
    """What `kill -9` of the sender between the broker call and its record leaves behind: the row is
    committed and claimed, the broker has the order, nobody recorded the reply."""
    order, _ = order_create(intent, claim=True)
    with contextlib.suppress(Exception):  # the dead process never saw it either
        broker.place_order(**_args(order))
    return order


def _args(order: Order) -> dict[str, Any]:
    from apps.trades.services.executor import _broker_args

    return _broker_args(order)


def _check(sim: SimHandle, broker: KiwoomBroker, account: str, out: FaultRunResult) -> None:
    from apps.broker.simulator.dto import OrderAction

    views = sim.call(sim.exchange.orders, account)
    new_orders = {v.order_no: v for v in views if v.action == OrderAction.NEW}
    amends = {v.order_no: v for v in views if v.action == OrderAction.AMEND}
    out.broker_orders = len(new_orders)
    local = Order.objects.filter(account_no=account).exclude(broker_order_no="")
    numbers = Counter(local.values_list("broker_order_no", flat=True))
    out.duplicate_orders = sum(c - 1 for c in numbers.values() if c > 1)
    # An intent that reached the broker twice would leave a broker order nobody claims.
    out.untracked_broker_orders = len(set(new_orders) - set(numbers))
    for no, view in {**new_orders, **amends}.items():
        row = local.filter(broker_order_no=no).first()
        local_filled = row.filled_quantity if row else 0
        if local_filled != view.filled_qty:
            out.lost_fills += abs(view.filled_qty - local_filled)
            out.fill_mismatches.append(f"{no}: broker {view.filled_qty} local {local_filled}")
    out.local_positions = dict(
        Position.objects.filter(account_no=account, quantity__gt=0).values_list("code", "quantity")
    )
    out.broker_positions = {
        h.code: h.qty for h in sim.call(sim.exchange.holdings, account) if h.qty
    }
    out.unresolved = Order.objects.filter(
        account_no=account, status__in=[OrderStatus.UNKNOWN, OrderStatus.SUBMITTED]
    ).count()
