"""The pages' side of signals: the overview's feed, a signal's page, the orders and trades pages linking
to the signal that caused them, and the engine in `GET /api/v1/health`."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings

from apps.strategy import status
from apps.strategy.models import SignalStatus
from apps.trades.models import Cause
from apps.trades.tests.factories import OrderFactory

from .support import SignalFactory, TradeFactory, at

pytestmark = pytest.mark.django_db


def test_the_overview_shows_recent_signals_with_their_reason(trader_client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        "apps.broker.backends.exchange_now", lambda: at("10:00:00")
    )  # the feed: the day's
    old = SignalFactory(at=at("09:01:00"), reason="old one")
    new = SignalFactory(at=at("09:20:00"), reason="거래대금 1위 돌파", status=SignalStatus.GATED)
    body = trader_client.get("/").content.decode()
    assert 'id="signal-feed"' in body and "signal_feed.js" in body
    assert body.index(f'data-signal="{new.pk}"') < body.index(f'data-signal="{old.pk}"')
    assert "거래대금 1위 돌파" in body and "자동매매 꺼짐" in body
    assert f'href="/signals/{new.pk}/"' in body
    assert 'id="signal-status-labels"' in body


def test_the_overview_without_signals_says_so(viewer_client) -> None:  # type: ignore[no-untyped-def]
    redis.Redis.from_url(settings.REDIS_URL).delete(status.heartbeat_key())
    body = viewer_client.get("/").content.decode()
    assert "오늘은 아직 신호, 체결, 조건 편입이 없습니다." in body
    assert 'id="engine-status" data-status="stopped"' in body


def test_the_overview_says_whether_the_engine_runs_and_may_enter(viewer_client) -> None:  # type: ignore[no-untyped-def]
    from apps.core.models import RuntimeFlag

    client = redis.Redis.from_url(settings.REDIS_URL)
    status.heartbeat_write({"strategies": ["opening_breakout", "condition_entry"]})
    try:
        RuntimeFlag.objects.update_or_create(key="trading-enabled", defaults={"enabled": True})
        body = viewer_client.get("/").content.decode()
        assert 'data-status="running"' in body and "opening_breakout, condition_entry" in body
        RuntimeFlag.objects.filter(key="trading-enabled").update(enabled=False)
        assert 'data-status="paused"' in viewer_client.get("/").content.decode()
    finally:
        client.delete(status.heartbeat_key())
        client.close()


def test_a_signal_page_shows_reason_features_outcome_and_order(viewer_client) -> None:  # type: ignore[no-untyped-def]
    order = OrderFactory(cause=Cause.SIGNAL)
    signal = SignalFactory(
        features={"rank": 2, "news_score": 81},
        status=SignalStatus.ACCEPTED,
        order=order,
        reason="opening range broken",
    )
    body = viewer_client.get(f"/signals/{signal.pk}/").content.decode()
    assert "opening range broken" in body and "news_score" in body
    assert f"/orders/{order.pk}/" in body
    refused = SignalFactory(
        status=SignalStatus.REJECTED,
        risk_reasons=[{"code": "order_value", "message": "주문 금액 한도 초과"}],
    )
    body = viewer_client.get(f"/signals/{refused.pk}/").content.decode()
    assert "주문 금액 한도 초과" in body and "order_value" in body
    assert viewer_client.get("/signals/999999/").status_code == 404


def test_orders_link_to_the_signal_that_caused_them(viewer_client) -> None:  # type: ignore[no-untyped-def]
    signal = SignalFactory(status=SignalStatus.ACCEPTED, reason="breakout above VWAP")
    order = OrderFactory(cause=Cause.SIGNAL, cause_ref=str(signal.pk), strategy_tag="first_tick")
    signal.order = order
    signal.save()
    manual = OrderFactory(cause=Cause.USER, cause_ref="")
    listing = viewer_client.get("/orders/").content.decode()
    assert listing.count('class="signal-link"') == 1
    assert f'href="/signals/{signal.pk}/"' in listing
    detail = viewer_client.get(f"/orders/{order.pk}/").content.decode()
    assert f'href="/signals/{signal.pk}/"' in detail and "breakout above VWAP" in detail
    assert "signal-link" not in viewer_client.get(f"/orders/{manual.pk}/").content.decode()


def test_trades_link_to_their_entry_and_exit_signals(viewer_client) -> None:  # type: ignore[no-untyped-def]
    entry_order = OrderFactory(cause=Cause.SIGNAL)
    entry = SignalFactory(at=at("09:10:00"), status=SignalStatus.ACCEPTED, order=entry_order)
    exit_order = OrderFactory(cause=Cause.SIGNAL, side="sell")
    exit_ = SignalFactory(
        at=at("10:29:59"), side="sell", status=SignalStatus.ACCEPTED, order=exit_order
    )
    SignalFactory(at=at("11:00:00"), status=SignalStatus.ACCEPTED, order=OrderFactory())  # later
    trade = TradeFactory(exit_order=exit_order)
    other = TradeFactory(code="000660", exit_order=None)
    body = viewer_client.get("/trades/").content.decode()
    row = body[body.index(f'data-trade="{trade.pk}"') :]
    row = row[: row.index("</tr>")]
    assert f'href="/signals/{entry.pk}/"' in row and f'href="/signals/{exit_.pk}/"' in row
    other_row = body[body.index(f'data-trade="{other.pk}"') :]
    assert "signal-link" not in other_row[: other_row.index("</tr>")]


def test_health_says_whether_the_engine_runs(api_client, viewer) -> None:  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(status.heartbeat_key())
    api_client.force_authenticate(viewer)
    assert api_client.get("/api/v1/health").json()["engine"]["running"] is False
    status.heartbeat_write({"strategies": ["opening_breakout"]})
    try:
        engine = api_client.get("/api/v1/health").json()["engine"]
        assert engine["running"] is True and engine["strategies"] == ["opening_breakout"]
        assert engine["age_seconds"] is not None
    finally:
        client.delete(status.heartbeat_key())
        client.close()
