"""The pure pre-trade check: a table of rules, and hypothesis properties.

The properties define "breaking a limit" on their own, from the snapshot's plain numbers (not with the
check's helpers): an approved intent, filled together with every open buy at its price, never puts a
code over its weight, the account over its positions, an order over its value, the minute over its
entries, or an entry past the loss budget, the state, the switch, the closing window, an excluded
instrument or an invalid price; and every limit an intent breaks is among the reasons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import krx
from apps.risk.check import (
    InstrumentFlags,
    Intent,
    Limits,
    OpenOrder,
    PositionState,
    RiskState,
    Snapshot,
    check,
)

DAY = dt.date(2026, 3, 3)
NOW = dt.datetime(2026, 3, 3, 10, 0, tzinfo=krx.KST)
CLOSE = dt.datetime(2026, 3, 3, 15, 30, tzinfo=krx.KST)
CODES = ["005930", "000660", "035420", "051910", "068270", "105560", "207940", "373220"]


def snap(**kw) -> Snapshot:
    base = {
        "now": NOW,
        "trading_day": DAY,
        "session_close": CLOSE,
        "opening_equity": 100_000_000,
        "opening_unrealized": 0,
        "realized_today": 0,
        "positions": {},
        "open_orders": (),
        "entries_last_minute": 0,
        "state": RiskState.ACTIVE,
        "switch_on": True,
        "limits": Limits(),
        "instrument": InstrumentFlags(code="005930", base_price=70_000),
    }
    base.update(kw)
    return Snapshot(**base)


def buy(qty: int = 10, price: int | None = 70_000, **kw) -> Intent:
    return Intent(code=kw.pop("code", "005930"), side="buy", quantity=qty, price=price, **kw)


def pos(code: str = "005930", qty: int = 100, price: int | None = 70_000, cost: int | None = None):
    return PositionState(code, qty, 0, cost if cost is not None else 70_000 * qty, price)


CASES = [
    # (name, snapshot overrides, intent, expected reason codes)
    ("small buy passes", {}, buy(), ()),
    ("halted refuses entries", {"state": RiskState.HALTED}, buy(), ("halted",)),
    ("reducing refuses entries", {"state": RiskState.REDUCING}, buy(), ("reducing",)),
    ("switch off: automatic only", {"switch_on": False}, buy(automatic=True), ("gate_closed",)),
    ("switch off: manual passes", {"switch_on": False}, buy(), ()),
    (
        "closing window: automatic",
        {"now": CLOSE - dt.timedelta(minutes=5)},
        buy(automatic=True),
        ("closing_window",),
    ),
    ("equity unknown", {"opening_equity": None}, buy(), ("equity_unknown",)),
    ("daily loss reached", {"realized_today": -2_000_000}, buy(), ("daily_loss",)),
    ("80% of the budget", {"realized_today": -1_600_000}, buy(), ("loss_budget_reduce",)),
    ("order value", {}, buy(200, 70_000), ("order_value", "weight")),
    (
        "weight counts the position and open buys",
        {
            "positions": {"005930": pos(qty=100)},
            "open_orders": (OpenOrder("005930", "buy", 30, 70_000),),
        },
        buy(20),  # 7.0M held + 2.1M open + 1.4M > 10% of 100M
        ("weight",),
    ),
    (
        "positions count open buys",
        {
            "positions": {c: pos(c, 1, 1_000, 1_000) for c in CODES[1:4]},
            "open_orders": tuple(OpenOrder(c, "buy", 1, 1_000) for c in CODES[4:6]),
        },
        buy(1),
        ("max_positions",),
    ),
    ("entry rate", {"entries_last_minute": 5}, buy(), ("entry_rate",)),
    (
        "excluded instrument",
        {"instrument": InstrumentFlags("005930", kinds=frozenset({"administrative", "vi"}))},
        buy(),
        ("excluded", "excluded"),
    ),
    ("off tick", {}, buy(1, 70_010), ("off_tick",)),
    ("above the upper limit", {}, buy(1, 91_100), ("outside_limits",)),
    ("market buy valued at the upper limit", {}, buy(100, None), ()),
    (
        "market buy without a price",
        {"instrument": InstrumentFlags("005930")},
        buy(1, None),
        ("price_unknown",),
    ),
    (
        "exit passes a halt and every entry limit",
        {
            "state": RiskState.HALTED,
            "switch_on": False,
            "realized_today": -9_000_000,
            "positions": {"005930": pos(qty=100)},
        },
        Intent("005930", "sell", 100, 60_000, automatic=True),
        (),
    ),
    (
        "exit still needs a valid price",
        {"positions": {"005930": pos()}},
        Intent("005930", "sell", 1, 1),
        ("outside_limits",),
    ),
    (
        "a sell beyond the position is no exit",
        {},
        Intent("005930", "sell", 1, 70_000),
        ("exceeds_position",),
    ),
]


@pytest.mark.parametrize(("name", "overrides", "intent", "codes"), CASES, ids=[c[0] for c in CASES])
def test_rules(name: str, overrides: dict, intent: Intent, codes: tuple[str, ...]) -> None:
    decision = check(snap(**overrides), intent)
    assert decision.codes == codes
    assert decision.approved == (not codes)
    for reason in decision.reasons:
        assert reason.message and "%(" not in reason.message


def test_every_reason_is_reported_at_once() -> None:
    decision = check(
        snap(
            state=RiskState.HALTED,
            switch_on=False,
            realized_today=-5_000_000,
            entries_last_minute=9,
        ),
        buy(1000, 70_010, automatic=True),
    )
    assert set(decision.codes) >= {
        "halted",
        "gate_closed",
        "daily_loss",
        "order_value",
        "weight",
        "entry_rate",
        "off_tick",
    }


# ------------------------------------------------------------------------------------------ properties
def on_tick(price: int) -> int:
    return krx.tick_round(price, "KOSPI", DAY, "down")


prices = st.integers(min_value=500, max_value=300_000)


@st.composite
def snapshots(draw) -> Snapshot:
    held = draw(st.lists(st.sampled_from(CODES), unique=True, max_size=6))
    positions = {}
    for code in held:
        qty = draw(st.integers(0, 2_000))
        avg = draw(prices)
        positions[code] = PositionState(
            code,
            qty,
            draw(st.integers(0, qty)),
            avg * qty,
            draw(st.one_of(st.none(), prices)),
        )
    orders = tuple(
        OpenOrder(
            draw(st.sampled_from(CODES)),
            draw(st.sampled_from(["buy", "sell"])),
            draw(st.integers(0, 500)),
            on_tick(draw(prices)),
        )
        for _ in range(draw(st.integers(0, 6)))
    )
    limits = Limits(
        weight_pct=Decimal(draw(st.integers(1, 100))),
        max_positions=draw(st.integers(1, 8)),
        max_daily_loss_krw=draw(st.one_of(st.none(), st.integers(1, 10_000_000))),
        max_daily_loss_pct=draw(
            st.one_of(st.none(), st.sampled_from([Decimal(1), Decimal("2.5"), Decimal(5)]))
        ),
        max_order_value=draw(st.one_of(st.none(), st.integers(1, 100_000_000))),
        max_entries_per_minute=draw(st.one_of(st.none(), st.integers(1, 10))),
        no_entry_before_close_minutes=draw(st.integers(0, 60)),
        excluded=frozenset(
            draw(st.sets(st.sampled_from(["halted", "administrative", "vi", "spac"])))
        ),
        reduce_at_pct=Decimal(draw(st.integers(1, 100))),
    )
    code = draw(st.sampled_from(CODES))
    instrument = InstrumentFlags(
        code=code,
        kinds=frozenset(
            draw(st.sets(st.sampled_from(["halted", "administrative", "vi", "spac", "etn"])))
        ),
        base_price=draw(st.one_of(st.none(), st.integers(1_000, 200_000))),
    )
    return snap(
        now=CLOSE - dt.timedelta(minutes=draw(st.integers(1, 400))),
        opening_equity=draw(st.one_of(st.none(), st.integers(1_000_000, 1_000_000_000))),
        opening_unrealized=draw(st.integers(-5_000_000, 5_000_000)),
        realized_today=draw(st.integers(-10_000_000, 5_000_000)),
        positions=positions,
        open_orders=orders,
        entries_last_minute=draw(st.integers(0, 12)),
        state=draw(
            st.sampled_from(
                [RiskState.ACTIVE, RiskState.ACTIVE, RiskState.REDUCING, RiskState.HALTED]
            )
        ),
        switch_on=draw(st.booleans()),
        limits=limits,
        instrument=instrument,
    )


@st.composite
def cases(draw) -> tuple[Snapshot, Intent]:
    s = draw(snapshots())
    limit = draw(st.booleans())
    price = draw(prices)
    intent = Intent(
        code=s.instrument.code,
        side=draw(st.sampled_from(["buy", "buy", "sell"])),
        quantity=draw(st.integers(1, 3_000)),
        price=(on_tick(price) if draw(st.booleans()) else price) if limit else None,
        reference_price=None if limit else price,
        automatic=draw(st.booleans()),
    )
    return s, intent


def breaks(s: Snapshot, i: Intent) -> set[str]:
    """The limits the intent would break, defined from the numbers alone."""
    broken: set[str] = set()
    lim = s.limits
    if i.price is not None:
        if i.price % krx.tick_size(i.price, "KOSPI", DAY):
            broken.add("off_tick")
        if s.instrument.base_price:
            lo, hi = krx.price_limits(s.instrument.base_price, "KOSPI", DAY)
            if not lo <= i.price <= hi:
                broken.add("outside_limits")
    if i.side == "sell":
        p = s.positions.get(i.code)
        if p is None or i.quantity > p.quantity - p.reserved:
            broken.add("exceeds_position")
        return broken
    if s.state != RiskState.ACTIVE:
        broken.add(s.state)
    if i.automatic and not s.switch_on:
        broken.add("gate_closed")
    if (
        i.automatic
        and lim.no_entry_before_close_minutes
        and (s.session_close - s.now) <= dt.timedelta(minutes=lim.no_entry_before_close_minutes)
    ):
        broken.add("closing_window")
    if s.instrument.kinds & lim.excluded:
        broken.add("excluded")
    unit = i.price if i.price is not None else i.reference_price
    value = unit * i.quantity
    if lim.max_order_value is not None and value > lim.max_order_value:
        broken.add("order_value")
    if s.opening_equity is None:
        broken.add("equity_unknown")
    else:
        mark = {
            c: (p.price * p.quantity if p.price is not None else p.cost)
            for c, p in s.positions.items()
        }
        pnl = (
            s.realized_today
            - s.opening_unrealized
            + sum(mark[c] - p.cost for c, p in s.positions.items())
        )
        budgets = [
            b
            for b in (
                lim.max_daily_loss_krw,
                None
                if lim.max_daily_loss_pct is None
                else int(s.opening_equity * lim.max_daily_loss_pct / 100),
            )
            if b is not None
        ]
        if budgets and -pnl * 100 >= min(budgets) * lim.reduce_at_pct:
            broken.add("loss")
        equity = s.opening_equity + pnl
        held = (
            mark.get(i.code, 0) if s.positions.get(i.code) and s.positions[i.code].quantity else 0
        )
        pending = sum(
            o.price * o.remaining for o in s.open_orders if o.side == "buy" and o.code == i.code
        )
        if (held + pending + value) * 100 > lim.weight_pct * equity:
            broken.add("weight")
    names = {c for c, p in s.positions.items() if p.quantity} | {
        o.code for o in s.open_orders if o.side == "buy" and o.remaining
    }
    if i.code not in names and len(names) + 1 > lim.max_positions:  # a new name beyond the max
        broken.add("max_positions")
    if (
        lim.max_entries_per_minute is not None
        and s.entries_last_minute >= lim.max_entries_per_minute
    ):
        broken.add("entry_rate")
    return broken


ALIASES = {"loss": {"daily_loss", "loss_budget_reduce"}}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_no_approved_intent_breaks_a_limit(case: tuple[Snapshot, Intent]) -> None:
    s, intent = case
    decision = check(s, intent)
    broken = breaks(s, intent)
    if decision.approved:
        assert not broken, broken
    for name in broken:  # and every limit broken is named among the reasons
        assert ALIASES.get(name, {name}) & set(decision.codes), (name, decision.codes)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_exits_pass_whatever_the_entry_limits(case: tuple[Snapshot, Intent]) -> None:
    s, intent = case
    held = replace(intent, side="sell", price=None, reference_price=None, quantity=1)
    positions = {**s.positions, intent.code: PositionState(intent.code, 5, 0, 5_000, None)}
    assert check(replace(s, positions=positions), held).approved
