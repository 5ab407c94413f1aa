"""Property tests (hypothesis) on matching and accounting over random order flows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.broker.simulator.dto import OrderAction, OrderEvent, OrderStatus, SimRejection, Tick
from apps.broker.simulator.exchange import Exchange
from krx import is_on_tick, step_ticks

from .engine_helpers import ACCOUNT, DAY, OTHER, at, make

CODES = ("005930", "035720", "060310")
START_CASH = 50_000_000
ACCOUNTS = (ACCOUNT, OTHER)

advance = st.tuples(st.just("advance"), st.integers(1, 900))
place = st.tuples(
    st.sampled_from(["buy", "sell"]),
    st.integers(0, len(CODES) - 1),
    st.integers(1, 3_000),
    st.one_of(st.none(), st.integers(-6, 6)),  # None = market order, else ticks from the price
    st.integers(0, 1),
)
amend = st.tuples(st.just("amend"), st.integers(0, 50), st.integers(0, 3), st.integers(-4, 4))
cancel = st.tuples(st.just("cancel"), st.integers(0, 50), st.integers(0, 3))
actions = st.lists(st.one_of(advance, place, place, amend, cancel), min_size=1, max_size=40)


def run(flow: list[tuple], start: dt.datetime) -> tuple[Exchange, list, set[tuple[str, str]]]:
    """Play a flow; returns the exchange, all events, and (account, order_no) of immediate fills
    (those that happened at placement, against the synthesised book)."""
    ex = make(start, codes=CODES, start_cash=START_CASH)
    events: list = []
    immediate: set[tuple[str, str]] = set()
    for action in flow:
        kind = action[0]
        before = (ex.cash(ACCOUNT), ex.cash(OTHER), ex.orders(ACCOUNT), ex.orders(OTHER))
        try:
            if kind == "advance":
                events += ex.advance(ex.now() + dt.timedelta(seconds=action[1]))
                continue
            if kind in ("buy", "sell"):
                _, idx, qty, offset, who = action
                code = CODES[idx]
                q = ex.quote(code)
                book = ex.order_book(code)
                levels = {lv.price: lv.qty for lv in (book.asks if kind == "buy" else book.bids)}
                if offset is None:
                    ex.place_order(ACCOUNTS[who], kind, code, qty, 0, "3")
                else:
                    price = step_ticks(q.price, offset, q.market, DAY)
                    ex.place_order(ACCOUNTS[who], kind, code, qty, price, "0")
            else:
                acct = ACCOUNTS[action[1] % 2]
                open_orders = ex.open_orders(acct)
                if not open_orders:
                    continue
                target = open_orders[action[1] % len(open_orders)]
                qty = [0, 1, target.remaining_qty // 2, target.remaining_qty + 1][action[2]]
                if kind == "amend":
                    q = ex.quote(target.code)
                    price = step_ticks(target.price or q.price, action[3], q.market, DAY)
                    ex.amend_order(acct, target.order_no, target.code, qty, price)
                else:
                    ex.cancel_order(acct, target.order_no, target.code, qty)
        except SimRejection:
            # a rejection changes nothing
            assert before == (
                ex.cash(ACCOUNT),
                ex.cash(OTHER),
                ex.orders(ACCOUNT),
                ex.orders(OTHER),
            )
            continue
        flushed = ex.advance(ex.now())
        now_fills = [
            e for e in flushed if isinstance(e, OrderEvent) and e.status is OrderStatus.FILLED
        ]
        immediate |= {(e.account, e.order_no) for e in now_fills}
        if kind in ("buy", "sell"):
            # an order taking the synthesised book never takes more than a level shows
            for e in now_fills:
                assert e.fill_qty <= levels.get(e.fill_price, 0), (e, levels)
        events += flushed
    events += ex.advance(ex.now() + dt.timedelta(minutes=10))
    return ex, events, immediate


def check_invariants(ex: Exchange, events: list, immediate: set[tuple[str, str]]) -> None:
    fills = [e for e in events if isinstance(e, OrderEvent) and e.status is OrderStatus.FILLED]
    prints = {(t.code, t.time): t for t in events if isinstance(t, Tick)}
    tape_fill_qty: dict[tuple[str, dt.datetime], int] = defaultdict(int)
    for f in fills:
        q = ex.quote(f.code)
        assert is_on_tick(f.fill_price, q.market, DAY), f
        assert q.lower_limit <= f.fill_price <= q.upper_limit, f
        assert f.fill_qty > 0
        if (f.account, f.order_no) not in immediate or (f.code, f.time) in prints:
            tape_fill_qty[(f.code, f.time)] += f.fill_qty
    for key, qty in tape_fill_qty.items():
        tick = prints.get(key)
        if tick is not None:
            # all our accounts together take at most the participation share of a print
            assert qty <= tick.volume // 2 + 1, (key, qty, tick.volume)

    for acct in ACCOUNTS:
        orders = ex.orders(acct)
        amended_away: dict[str, int] = defaultdict(int)
        for o in orders:
            if o.action is OrderAction.AMEND and o.orig_order_no:
                amended_away[o.orig_order_no] += o.qty
        for o in orders:
            if o.action is OrderAction.CANCEL:
                continue
            assert (
                o.filled_qty + o.remaining_qty + o.cancelled_qty + amended_away[o.order_no] == o.qty
            )
            assert 0 <= o.filled_qty <= o.qty
        # cash + holdings at cost (+ carried buy commission) conserved up to realised P&L
        hs = ex.holdings(acct)
        s = ex.summary(acct)
        cash = ex.cash(acct)
        assert (
            cash.deposit + sum(h.cost + h.buy_commission for h in hs) - s.realized_pnl == START_CASH
        )
        assert cash.held_for_orders >= 0 and cash.orderable >= 0
        fl = ex.fills(acct)
        assert s.commission_total == sum(f.commission for f in fl)
        assert s.tax_total == sum(f.tax for f in fl)
        net: dict[str, int] = defaultdict(int)
        for f in fl:
            net[f.code] += f.qty if f.side.value == "buy" else -f.qty
        assert {h.code: h.qty for h in hs} == {c: n for c, n in net.items() if n}
        for h in hs:
            assert 0 <= h.orderable_qty <= h.qty


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=actions, start=st.sampled_from([at(8, 45), at(9, 0), at(11, 0), at(15, 15)]))
def test_matching_and_accounting_invariants(flow: list[tuple], start: dt.datetime) -> None:
    ex, events, immediate = run(flow, start)
    check_invariants(ex, events, immediate)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=actions)
def test_same_seed_same_flow_same_events(flow: list[tuple]) -> None:
    _, a, _ = run(flow, at(9, 30))
    _, b, _ = run(flow, at(9, 30))
    assert a == b
