"""Exchange facade: sessions, rejections, matching, amend/cancel, day end, reads, persistence."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter

import pytest

from apps.broker.simulator.dto import (
    BalanceEvent,
    ConditionEvent,
    OrderAction,
    OrderEvent,
    OrderStatus,
    PhaseEvent,
    SimRejection,
    Tick,
    ViEvent,
)
from apps.broker.simulator.exchange import Exchange, ExchangeConfig
from apps.broker.simulator.store import load_state, save_state
from krx import is_on_tick, step_ticks

from .engine_helpers import ACCOUNT, CODES, DAY, OTHER, at, make


def ticks(events, code=None):
    return [e for e in events if isinstance(e, Tick) and (code is None or e.code == code)]


def order_events(events, order_no=None):
    return [
        e
        for e in events
        if isinstance(e, OrderEvent) and (order_no is None or e.order_no == order_no)
    ]


# ------------------------------------------------------------------ sessions and rejections
def test_closed_market_rejects_with_kiwoom_messages() -> None:
    ex = make(at(8, 10))
    with pytest.raises(SimRejection) as exc:
        ex.place_order(ACCOUNT, "buy", "005930", 1, 60_000)
    assert exc.value.message == "[2000](RC4058:모의투자 장종료)"
    ex.advance(at(16, 0))
    with pytest.raises(SimRejection, match="RC4058"):
        ex.place_order(ACCOUNT, "buy", "005930", 1, 60_000)
    ex.advance(dt.datetime(2025, 6, 7, 10, 0, tzinfo=at(9, 0).tzinfo))  # Saturday
    with pytest.raises(SimRejection) as exc:
        ex.place_order(ACCOUNT, "buy", "005930", 1, 60_000)
    assert exc.value.message == "[2000](571489:장이 열리지 않는 날입니다.)"


def test_price_checks_and_funds() -> None:
    ex = make(at(9, 30))
    ex.advance(at(9, 30))
    q = ex.quote("005930")
    with pytest.raises(SimRejection, match="호가단위"):
        ex.place_order(ACCOUNT, "buy", "005930", 1, q.price + 1)
    with pytest.raises(SimRejection, match="상한가"):
        ex.place_order(ACCOUNT, "buy", "005930", 1, step_ticks(q.upper_limit, 1, q.market, DAY))
    with pytest.raises(SimRejection, match="하한가"):
        ex.place_order(ACCOUNT, "sell", "005930", 1, step_ticks(q.lower_limit, -1, q.market, DAY))
    with pytest.raises(SimRejection) as exc:
        ex.place_order(ACCOUNT, "buy", "005930", 10_000_000, q.lower_limit)
    n = ex.orderable_qty(ACCOUNT, "buy", "005930", q.lower_limit)
    assert exc.value.message == f"[2000](855056:매수증거금이 부족합니다. {n}주 매수가능)"
    with pytest.raises(SimRejection, match="매도가능수량"):
        ex.place_order(ACCOUNT, "sell", "005930", 1, q.price)
    with pytest.raises(SimRejection, match="1902"):
        ex.place_order(ACCOUNT, "buy", "999999", 1, q.price)
    with pytest.raises(SimRejection):
        ex.place_order(ACCOUNT, "buy", "005930", 0, q.price)
    # rejections change nothing
    assert ex.orders(ACCOUNT) == []
    assert ex.cash(ACCOUNT).orderable == ex.cash(ACCOUNT).deposit == 100_000_000


# ------------------------------------------------------------------ matching
def test_opening_auction_orders_fill_at_the_single_price() -> None:
    ex = make(at(8, 40))
    assert ex.phase().value == "opening_auction"
    q = ex.quote("005930")
    assert q.expected_price > 0
    ack = ex.place_order(ACCOUNT, "buy", "005930", 10, q.upper_limit)
    events = ex.advance(at(9, 0))
    assert [e.kiwoom_code for e in events if isinstance(e, PhaseEvent)] == ["3"]
    fills = [e for e in order_events(events, ack.order_no) if e.status is OrderStatus.FILLED]
    opening = ticks(events, "005930")[0]
    assert opening.auction and opening.time == at(9, 0)
    assert fills and all(f.fill_price == opening.price for f in fills)
    assert sum(f.fill_qty for f in fills) == 10


def test_resting_limit_fills_only_when_the_tape_trades_through() -> None:
    ex = make(at(9, 5))
    q = ex.quote("035720")
    limit = step_ticks(q.price, -3, q.market, DAY)
    ack = ex.place_order(ACCOUNT, "buy", "035720", 50, limit)
    events = ex.advance(at(15, 30))
    fills = [e for e in order_events(events, ack.order_no) if e.status is OrderStatus.FILLED]
    tape = ticks(events, "035720")
    for f in fills:
        assert f.fill_price == limit
        same = [t for t in tape if t.time == f.time]
        assert same and same[0].price <= limit
        assert f.fill_qty <= same[0].volume
    if not any(t.price <= limit for t in tape):
        assert not fills


def test_market_order_walks_the_book_with_slippage() -> None:
    ex = make(at(10, 0), start_cash=1_000_000_000_000)
    book = ex.order_book("005930")
    size = book.asks[0].qty + book.asks[1].qty // 2
    ack = ex.place_order(ACCOUNT, "buy", "005930", size, 0, "3")
    events = ex.advance(ex.now())
    fills = [e for e in order_events(events, ack.order_no) if e.status is OrderStatus.FILLED]
    assert [f.fill_price for f in fills] == [book.asks[0].price, book.asks[1].price]
    assert sum(f.fill_qty for f in fills) == size
    bal = [e for e in events if isinstance(e, BalanceEvent)][-1]
    assert bal.qty == size and bal.cost == sum(f.fill_price * f.fill_qty for f in fills)


def test_ioc_and_fok() -> None:
    ex = make(at(10, 0), start_cash=1_000_000_000_000)
    book = ex.order_book("005930")
    too_many = sum(level.qty for level in book.asks) + 1
    fok = ex.place_order(ACCOUNT, "buy", "005930", too_many, book.asks[-1].price, "20")
    events = ex.advance(ex.now())
    assert [e.status for e in order_events(events, fok.order_no)] == [
        OrderStatus.ACCEPTED,
        OrderStatus.CANCELLED,
    ]
    ioc = ex.place_order(ACCOUNT, "buy", "005930", book.asks[0].qty + 5, book.asks[0].price, "10")
    events = ex.advance(ex.now())
    statuses = [e.status for e in order_events(events, ioc.order_no)]
    assert statuses[-1] is OrderStatus.CANCELLED and OrderStatus.FILLED in statuses
    assert ex.open_orders(ACCOUNT) == []
    assert ex.cash(ACCOUNT).held_for_orders == 0


def test_amend_and_cancel_work_on_the_open_remainder() -> None:
    ex = make(at(10, 0))
    q = ex.quote("005930")
    low = q.lower_limit
    ack = ex.place_order(ACCOUNT, "buy", "005930", 100, low)
    held = ex.cash(ACCOUNT).held_for_orders
    am = ex.amend_order(ACCOUNT, ack.order_no, "005930", 40, step_ticks(low, 1, q.market, DAY))
    assert am.orig_order_no == ack.order_no and am.base_order_no == ack.order_no
    assert am.order_no == "0000002" and am.action is OrderAction.AMEND
    assert ex.order(ACCOUNT, ack.order_no).remaining_qty == 60
    cn = ex.cancel_order(ACCOUNT, am.order_no, "005930", 0)
    assert cn.base_order_no == ack.order_no and cn.qty == 40 and cn.order_no == "0000003"
    with pytest.raises(SimRejection):
        ex.cancel_order(ACCOUNT, am.order_no, "005930", 0)
    with pytest.raises(SimRejection):
        ex.cancel_order(ACCOUNT, ack.order_no, "005930", 61)
    ex.cancel_order(ACCOUNT, ack.order_no, "005930", 10)
    assert [o.remaining_qty for o in ex.open_orders(ACCOUNT)] == [50]
    assert ex.cash(ACCOUNT).held_for_orders < held
    events = ex.advance(ex.now())
    kinds = [(e.order_no, e.status) for e in order_events(events)]
    assert ("0000002", OrderStatus.CONFIRMED) in kinds and (
        "0000003",
        OrderStatus.CONFIRMED,
    ) in kinds


def test_day_end_expires_open_orders_and_restarts_numbers() -> None:
    ex = make(at(15, 0))
    q = ex.quote("060310")
    ack = ex.place_order(ACCOUNT, "buy", "060310", 10, q.lower_limit)
    events = ex.advance(at(15, 31))
    last = order_events(events, ack.order_no)[-1]
    assert last.status is OrderStatus.CANCELLED and last.remaining_qty == 0
    assert [e.kiwoom_code for e in events if isinstance(e, PhaseEvent)] == ["2", "4"]
    assert ex.cash(ACCOUNT).held_for_orders == 0
    ex.advance(at(9, 1, day=DAY + dt.timedelta(days=1)))
    assert ex.trading_day() == DAY + dt.timedelta(days=1)
    assert ex.quote("060310").base_price == q.price or ex.quote("060310").base_price > 0
    assert (
        ex.place_order(ACCOUNT, "buy", "060310", 1, ex.quote("060310").price).order_no == "0000001"
    )
    assert ex.orders(ACCOUNT)[0].order_no == "0000001"


def test_base_price_rolls_to_the_previous_close() -> None:
    ex = make(at(15, 35))
    close = ex.quote("005930").price
    ex.advance(at(8, 45, day=DAY + dt.timedelta(days=1)))
    q = ex.quote("005930")
    assert q.base_price == close and q.volume == 0
    assert ex.daily_bars("005930", limit=1)[0].close == close


def test_sell_pays_tax_and_realises_pnl() -> None:
    ex = make(at(10, 0))
    ex.place_order(ACCOUNT, "buy", "005930", 100, 0, "3")
    ex.advance(at(14, 0))
    before = ex.cash(ACCOUNT).deposit
    ex.place_order(ACCOUNT, "sell", "005930", 100, 0, "3")
    events = ex.advance(ex.now())
    fills = [e for e in order_events(events) if e.status is OrderStatus.FILLED]
    amount = sum(f.fill_price * f.fill_qty for f in fills)
    assert fills[-1].tax == amount * 15 // 10_000  # 0.15 % in 2025 (KOSPI: 0 % + 농특세 0.15 %)
    assert fills[-1].commission == amount * 15 // 100_000
    assert ex.cash(ACCOUNT).deposit == before + amount - fills[-1].tax - fills[-1].commission
    assert ex.holdings(ACCOUNT) == []
    s = ex.summary(ACCOUNT)
    assert s.deposit == 100_000_000 + s.realized_pnl


# ------------------------------------------------------------------ market data
def test_ticks_are_on_grid_inside_limits_and_deterministic() -> None:
    a, b = make(at(9, 0)), make(at(9, 0))
    ea, eb = a.advance(at(11, 0)), b.advance(at(11, 0))
    assert ea == eb
    c = make(at(9, 0), seed=8)
    assert ticks(c.advance(at(11, 0))) != ticks(ea)
    for code in CODES:
        q = a.quote(code)
        for t in ticks(ea, code):
            assert is_on_tick(t.price, q.market, DAY)
            assert q.lower_limit <= t.price <= q.upper_limit
            assert t.volume > 0


def test_advance_granularity_does_not_change_events() -> None:
    a, b = make(at(9, 0)), make(at(9, 0))
    whole = a.advance(at(10, 0))
    pieces = []
    t = at(9, 0)
    while t < at(10, 0):
        t += dt.timedelta(seconds=7)
        pieces += b.advance(min(t, at(10, 0)))
    assert whole == pieces


def test_full_day_shape_u_volume_and_heavy_close() -> None:
    ex = make(at(8, 0))
    events = ex.advance(at(15, 40))
    tape = ticks(events, "005930")
    first_hour = sum(t.volume for t in tape if t.time < at(10, 0) and not t.auction)
    midday = sum(t.volume for t in tape if at(12, 0) <= t.time < at(13, 0))
    closing = [t for t in tape if t.time == at(15, 30)]
    assert first_hour > midday
    assert closing and closing[0].auction and closing[0].volume > midday / 10
    bars = ex.minute_bars("005930", 1, limit=1000)
    assert bars[0].time == at(15, 30) and bars[-1].time.date() < DAY
    today = [b for b in bars if b.time.date() == DAY]
    assert 300 <= len(today) <= 381
    assert sum(b.volume for b in today) == ex.quote("005930").volume
    page2 = ex.minute_bars("005930", 1, before=bars[-1].time, limit=900)
    assert page2[0].time < bars[-1].time
    five = ex.minute_bars("005930", 5, limit=3)
    assert all(b.minutes == 5 for b in five)
    days = ex.daily_bars("005930", limit=600)
    assert len(days) == 600 and days[0].date == DAY
    assert all(x.date > y.date for x, y in itertools.pairwise(days))
    assert all(d.low <= min(d.open, d.close) <= max(d.open, d.close) <= d.high for d in days)
    assert days[1].close == days[0].prev_close


def test_reads_rankings_and_instruments() -> None:
    ex = make(at(11, 0))
    rows = ex.rankings("value")
    assert [r.value for r in rows] == sorted((r.value for r in rows), reverse=True)
    assert {r.code for r in ex.stats("KOSDAQ")} == {"060310", "247540"}
    assert [i.code for i in ex.instruments("KOSPI")] == ["005930", "035720"]
    book = ex.order_book("005930")
    assert len(book.asks) == len(book.bids) == 10
    assert book.asks[0].price > book.bids[0].price
    assert all(x.price < y.price for x, y in itertools.pairwise(book.asks))
    recent, before = ex.recent_volume("005930", 5)
    assert recent > 0 and before > 0


def test_vi_halts_the_tape_for_two_minutes() -> None:
    # Seed 1 of the small test universe trips a static VI on 005930 in the afternoon.
    ex = make(at(9, 0), seed=1)
    events = ex.advance(at(15, 20))
    vis = [e for e in events if isinstance(e, ViEvent)]
    assert vis and vis[0].active and vis[0].kind == "static"
    assert abs(vis[0].static_gap_pct) >= 10
    on = vis[0]
    off = next(e for e in vis if e.code == on.code and not e.active)
    assert off.time == on.release_time == on.time + dt.timedelta(minutes=2)
    during = [t for t in ticks(events, on.code) if on.time <= t.time < off.time]
    assert during == []
    resume = [t for t in ticks(events, on.code) if t.time == off.time]
    assert resume and resume[0].auction


# ------------------------------------------------------------------ conditions
def test_condition_events_track_members() -> None:
    ex = make(at(9, 0), codes=())
    events = ex.advance(at(10, 30))
    conds = [e for e in events if isinstance(e, ConditionEvent)]
    assert conds, "the default conditions should move during a morning"
    for info in ex.condition_list():
        members: set[str] = set()
        for e in conds:
            if e.seq == info.seq:
                members.add(e.code) if e.kind == "I" else members.discard(e.code)
        assert members == set(ex.condition_members(info.seq))
    assert Counter(e.kind for e in conds).keys() <= {"I", "D"}
    with pytest.raises(SimRejection):
        ex.condition_members("99")


# ------------------------------------------------------------------ persistence
def test_snapshot_restore_and_store(tmp_path) -> None:
    ex = make(at(10, 0))
    q = ex.quote("005930")
    ex.place_order(ACCOUNT, "buy", "005930", 30, 0, "3")
    ack = ex.place_order(OTHER, "buy", "005930", 20, q.lower_limit)
    ex.advance(at(10, 30))
    path = tmp_path / "sim" / "state.json"
    ex.save(path)
    config = ExchangeConfig(codes=CODES, seed=7, use_krx_calendar=False, state_path=path)
    back = Exchange.load_or_create(config)
    assert back.now() == ex.now()
    for acct in (ACCOUNT, OTHER):
        assert back.holdings(acct) == ex.holdings(acct)
        assert back.cash(acct) == ex.cash(acct)
        assert back.orders(acct) == ex.orders(acct)
        assert back.fills(acct) == ex.fills(acct)
    assert back.quote("005930") == ex.quote("005930")
    # both continue identically, including the open order
    assert back.advance(at(15, 31)) == ex.advance(at(15, 31))
    assert back.order(OTHER, ack.order_no) == ex.order(OTHER, ack.order_no)
    plain = Exchange.restore(json.loads(json.dumps(ex.snapshot())))  # JSON-safe, self-contained
    assert plain.holdings(ACCOUNT) == ex.holdings(ACCOUNT) and plain.now() == ex.now()
    assert load_state(tmp_path / "missing.json") is None
    save_state(path, {"x": 1})
    assert load_state(path) == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_start_after_close_and_jumps_fast_forward() -> None:
    ex = make(at(18, 0))
    q = ex.quote("005930")
    assert q.volume > 0 and q.open and q.phase.value == "closed"
    bars = [b for b in ex.minute_bars("005930", 1, limit=400) if b.time.date() == DAY]
    assert sum(b.volume for b in bars) == q.volume
    # jump three trading days in one call: intermediate days finish without events
    events = ex.advance(at(9, 30, day=DAY + dt.timedelta(days=3)))
    assert ex.trading_day() == DAY + dt.timedelta(days=3)
    assert all(e.time.date() == DAY + dt.timedelta(days=3) for e in events)
    days = ex.daily_bars("005930", limit=4)
    assert [d.date for d in days] == [DAY + dt.timedelta(days=i) for i in (3, 2, 1, 0)]
    assert days[1].close == days[0].prev_close


def test_closing_auction_converts_conditional_limits_and_matches_at_1530() -> None:
    ex = make(at(15, 0), start_cash=1_000_000_000)
    q = ex.quote("005930")
    cond = ex.place_order(ACCOUNT, "buy", "005930", 5, q.lower_limit, "5")
    ex.advance(at(15, 25))
    assert ex.phase().value == "closing_auction"
    view = ex.order(ACCOUNT, cond.order_no)
    assert view.order_type.value == "3" and view.is_open  # 조건부지정가 became a market order
    waiting = ex.place_order(ACCOUNT, "buy", "005930", 7, q.upper_limit)
    assert ex.order(ACCOUNT, waiting.order_no).filled_qty == 0  # nothing fills in the auction
    with pytest.raises(SimRejection):
        ex.place_order(ACCOUNT, "buy", "005930", 1, q.upper_limit, "10")  # no IOC in auctions
    events = ex.advance(at(15, 30))
    close = [t for t in ticks(events, "005930") if t.time == at(15, 30)]
    assert close and close[0].auction
    for no in (cond.order_no, waiting.order_no):
        assert ex.order(ACCOUNT, no).filled_qty == ex.order(ACCOUNT, no).qty
        assert ex.order(ACCOUNT, no).last_fill_price == close[0].price
