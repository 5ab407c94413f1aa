"""The risk engine on the database: configuration versions, state changes, the trading gate, the
post-fill halt and the executor's refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.models import RuntimeFlag
from apps.notifications.models import Notification
from apps.risk.models import RiskConfig, RiskDay, RiskStateEvent, RiskStatus, State
from apps.risk.policy import exit_policy
from apps.risk.selectors import active_config
from apps.risk.services import gate
from apps.risk.services.config import ConfigInvalid, config_update
from apps.risk.snapshot import figures_of
from apps.trades.models import Order
from apps.trades.services import OrderIntent, OrderRefused, fill_apply, order_create

pytestmark = pytest.mark.django_db

ACCOUNT = "5000000010"


def intent(side: str = "buy", qty: int = 10, price: int | None = 10_000, **kw) -> OrderIntent:
    return OrderIntent(
        code=kw.pop("code", "005930"),
        side=side,
        quantity=qty,
        price=price,
        order_type="limit" if price else "market",
        account_no=ACCOUNT,
        **kw,
    )


def test_version_one_is_seeded_with_the_seed_defaults() -> None:
    row = RiskConfig.objects.get(version=1)
    assert row.stop_loss_pct == Decimal(-3) and row.weight_pct == Decimal(10)
    assert RiskStatus.objects.get(pk=1).config_version == 1
    assert active_config().version == 1


def test_a_change_is_a_new_version_with_author_and_reason(trader) -> None:
    row, warnings = config_update(
        {"stop_loss_pct": "-4", "max_positions": 3}, user=trader, reason="장세"
    )
    assert (row.version, row.author, row.reason) == (2, trader, "장세")
    assert row.weight_pct == Decimal(10)  # fields left out keep the active values
    assert warnings == []
    assert RiskConfig.objects.count() == 2  # history kept
    assert active_config().limits.max_positions == 3
    assert exit_policy().stop_loss_pct == Decimal(-4) and exit_policy().version == 2


def test_a_stop_loss_outside_the_band_warns() -> None:
    _row, warnings = config_update({"stop_loss_pct": "-8"}, user=None, reason="x")
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"stop_loss_pct": "-11"}, "stop_loss_pct"),
        ({"stop_loss_pct": "-0.5"}, "stop_loss_pct"),
        ({"weight_pct": "0"}, "weight_pct"),
        ({"max_positions": 0}, "max_positions"),
        ({"excluded_kinds": ["nonsense"]}, "excluded_kinds"),
        ({"max_daily_loss_krw": None, "max_daily_loss_pct": None}, "max_daily_loss_krw"),
        ({"reduce_at_pct": "150"}, "reduce_at_pct"),
        ({"bogus": 1}, "bogus"),
        ({"reason": ""}, "reason"),
    ],
)
def test_a_bad_change_names_the_field_and_writes_nothing(data: dict, field: str) -> None:
    with pytest.raises(ConfigInvalid) as bad:
        config_update(data, user=None, reason=data.pop("reason", "x"))
    assert field in bad.value.errors
    assert RiskConfig.objects.count() == 1
    assert RiskStatus.objects.get(pk=1).config_version == 1


def test_state_changes_are_journalled_and_notified(trader) -> None:
    event = gate.halt(user=trader, reason="점검")
    assert (event.from_state, event.to_state, event.author) == (State.ACTIVE, State.HALTED, trader)
    assert gate.halt(user=trader, reason="again") is None  # no change, nothing written
    gate.reduce(user=trader, reason="r")
    gate.resume(user=trader, reason="ok")
    assert list(RiskStateEvent.objects.order_by("id").values_list("to_state", flat=True)) == [
        "halted",
        "reducing",
        "active",
    ]
    assert Notification.objects.filter(kind="risk.halt").count() == 2
    assert Notification.objects.filter(kind="system").count() == 1


def test_the_gate_needs_the_switch_and_active(trader) -> None:
    RuntimeFlag.objects.filter(key="trading-enabled").update(enabled=False)
    assert not gate.entries_allowed()
    assert gate.switch_set(True, user=trader, reason="장 시작")
    assert gate.entries_allowed()
    gate.reduce(user=trader, reason="r")
    assert not gate.entries_allowed()
    assert gate.gate_status() == {"state": "reducing", "switch": True, "entries_allowed": False}


def test_halted_refuses_entries_manual_too_but_never_exits(trader) -> None:
    buy, _ = order_create(intent(qty=10))
    fill_apply(buy.pk, cum_quantity=10, cum_amount=100_000)
    gate.halt(user=trader, reason="stop")
    with pytest.raises(OrderRefused) as refused:
        order_create(intent(qty=1))
    assert refused.value.code == "halted"
    sell, created = order_create(intent("sell", 10, 9_000))
    assert created and sell.side == "sell"


def test_refusal_lists_every_reason() -> None:
    # Without the closing window: the wall clock (the test's exchange clock) may be in it.
    config_update({"no_entry_before_close_minutes": 0}, user=None, reason="any time of day")
    RuntimeFlag.objects.filter(key="trading-enabled").update(enabled=False)
    with pytest.raises(OrderRefused) as refused:
        order_create(intent(qty=2_000, price=10_000, cause="signal"))  # 20M: value and weight
    codes = [r["code"] for r in refused.value.reasons]
    assert codes == ["gate_closed", "order_value", "weight"]
    assert Order.objects.count() == 0


def test_a_fill_that_breaches_the_daily_loss_halts_at_once() -> None:
    config_update(
        {"max_daily_loss_krw": 1_000_000, "max_daily_loss_pct": None}, user=None, reason="t"
    )
    buy, _ = order_create(intent(qty=500, price=10_000))  # 5M: under the 10% weight
    fill_apply(buy.pk, cum_quantity=500, cum_amount=5_000_000)
    sell, _ = order_create(intent("sell", 500, 7_000))
    assert RiskStatus.objects.get(pk=1).state == State.ACTIVE
    fill_apply(sell.pk, cum_quantity=500, cum_amount=3_500_000)  # -1.5M realised
    status = RiskStatus.objects.get(pk=1)
    assert status.state == State.HALTED
    event = RiskStateEvent.objects.get()
    assert event.cause == "daily_loss" and event.data["pnl"] < -1_000_000
    with pytest.raises(OrderRefused) as refused:
        order_create(intent(qty=1))
    assert {r["code"] for r in refused.value.reasons} >= {"halted", "daily_loss"}


def test_the_reduce_share_of_the_budget_moves_active_to_reducing() -> None:
    config_update(
        {"max_daily_loss_krw": 1_000_000, "max_daily_loss_pct": None, "reduce_at_pct": "50"},
        user=None,
        reason="t",
    )
    buy, _ = order_create(intent(qty=100, price=10_000))
    fill_apply(buy.pk, cum_quantity=100, cum_amount=1_000_000)
    sell, _ = order_create(intent("sell", 100, 4_000))
    fill_apply(sell.pk, cum_quantity=100, cum_amount=400_000)  # -600k: 60% of the budget
    assert RiskStatus.objects.get(pk=1).state == State.REDUCING
    assert RiskStateEvent.objects.get().cause == "loss_budget"


def test_opening_equity_is_recorded_once_per_day(settings) -> None:
    figures = figures_of(ACCOUNT)
    assert figures.opening_equity == 100_000_000
    assert RiskDay.objects.get().source == "setting"
    settings.RISK_EQUITY_FALLBACK_KRW = 0
    from apps.risk.testing import forget_risk_caches

    forget_risk_caches()
    assert figures_of(ACCOUNT).opening_equity == 100_000_000  # the day's row stays


def test_without_any_equity_entries_are_refused(settings) -> None:
    settings.RISK_EQUITY_FALLBACK_KRW = 0
    with pytest.raises(OrderRefused) as refused:
        order_create(intent(qty=1))
    assert refused.value.code == "equity_unknown"


def test_a_loss_from_prices_alone_halts_on_the_next_evaluation() -> None:
    """No fill: the position's last price falls until the day's unrealised loss uses the budget."""
    from apps.risk.services.state import evaluate_on_prices
    from apps.trades.models import Position

    config_update(
        {"max_daily_loss_krw": 1_000_000, "max_daily_loss_pct": None, "reduce_at_pct": "50"},
        user=None,
        reason="t",
    )
    buy, _ = order_create(intent(qty=500, price=10_000))
    fill_apply(buy.pk, cum_quantity=500, cum_amount=5_000_000)
    position = Position.objects.get(account_no=ACCOUNT, code="005930")
    assert evaluate_on_prices(ACCOUNT) is None  # at cost: nothing to do
    Position.objects.filter(pk=position.pk).update(current_price=9_000)  # -500k: half the budget
    event = evaluate_on_prices(ACCOUNT)
    assert event is not None and event.to_state == State.REDUCING
    assert evaluate_on_prices(ACCOUNT) is None  # already REDUCING: no new journal row
    Position.objects.filter(pk=position.pk).update(current_price=7_900)  # -1.05M
    event = evaluate_on_prices(ACCOUNT)
    assert event is not None and (event.to_state, event.cause) == (State.HALTED, "daily_loss")
    assert RiskStatus.objects.get(pk=1).state == State.HALTED
    assert RiskStateEvent.objects.count() == 2
    with pytest.raises(OrderRefused) as refused:
        order_create(intent(qty=1))
    assert "halted" in {r["code"] for r in refused.value.reasons}
    _sell, created = order_create(intent("sell", 500, 7_900))  # exits still go
    assert created
