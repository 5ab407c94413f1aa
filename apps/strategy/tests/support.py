"""Test strategies, a fake broker call and factories for the strategy handler's tests (no real strategies:
those live on their own branch; the handler is tested with these)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, ClassVar

import factory
from django.conf import settings

import krx
from apps.broker.contract import OrderAck
from apps.strategy.engine.base import Strategy, StrategySettings
from apps.strategy.engine.events import BarEvent, Event, Signal, TickEvent
from apps.strategy.engine.runner import Engine
from apps.strategy.models import Signal as SignalRow

DAY = dt.date(2025, 2, 4)  # a Tuesday, a normal KRX session


def at(hhmmss: str, day: dt.date = DAY) -> dt.datetime:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return dt.datetime.combine(day, dt.time(h, m, s), tzinfo=krx.KST)


def settings_of(name: str, budget: int = 1_000_000, **params: Any) -> StrategySettings:
    return StrategySettings(name=name, version=1, enabled=True, budget_krw=budget, params=params)


class Recorder(Strategy):
    """Records every event it sees; never signals."""

    name: ClassVar[str] = "recorder"

    def __init__(self, settings: StrategySettings) -> None:
        super().__init__(settings)
        self.seen: list[Event] = []

    def on_event(self, event: Event) -> list[Signal]:
        self.seen.append(event)
        return []


class FirstTickBuyer(Strategy):
    """Buys each code on its first tick of the day (one key per code and day)."""

    name: ClassVar[str] = "first_tick"

    def on_event(self, event: Event) -> list[Signal]:
        if not isinstance(event, TickEvent):
            return []
        day = event.at.astimezone(krx.KST).date()
        return [
            Signal(
                strategy=self.name,
                code=event.code,
                side="buy",
                at=event.at,
                reason="first_tick",
                price=event.price,
                features={"rank": 1, "news_score": 80},
                key=f"{self.name}:{event.code}:{day}:entry",
            )
        ]


class RangeBreaker(Strategy):
    """Opening range = the first two minute bars' high; buys the first tick above it (bars only build
    the range: the same state live and after a rebuild from stored bars)."""

    name: ClassVar[str] = "range"

    def __init__(self, settings: StrategySettings) -> None:
        super().__init__(settings)
        self.bars: dict[str, list[BarEvent]] = {}

    def range_high(self, code: str) -> int | None:
        bars = self.bars.get(code, [])
        return max(b.high for b in bars[:2]) if len(bars) >= 2 else None

    def on_event(self, event: Event) -> list[Signal]:
        if isinstance(event, BarEvent):
            self.bars.setdefault(event.code, []).append(event)
            return []
        if not isinstance(event, TickEvent):
            return []
        high = self.range_high(event.code)
        if high is None or event.price <= high:
            return []
        day = event.at.astimezone(krx.KST).date()
        return [
            Signal(
                strategy=self.name,
                code=event.code,
                side="buy",
                at=event.at,
                reason=f"opening range {high} broken",
                price=event.price,
                features={"opening_high": high},
                key=f"{self.name}:{event.code}:{day}:entry",
            )
        ]


class Seller(Strategy):
    """Sells a code on any tick at or under `params["under"]`."""

    name: ClassVar[str] = "seller"

    def on_event(self, event: Event) -> list[Signal]:
        if not isinstance(event, TickEvent) or event.price > self.settings.params["under"]:
            return []
        day = event.at.astimezone(krx.KST).date()
        return [
            Signal(
                strategy=self.name,
                code=event.code,
                side="sell",
                at=event.at,
                reason="vwap_breakdown",
                price=event.price,
                key=f"{self.name}:{event.code}:{day}:exit",
            )
        ]


def engine_builder(*classes: type[Strategy]) -> Any:
    """A `feeds.build_engine` replacement: one instance of each class with its settings."""

    def build(settings: dict[str, StrategySettings]) -> Engine:
        return Engine([cls(settings.get(cls.name) or settings_of(cls.name)) for cls in classes])

    return build


class Place:
    """The async place call: records each order and acks it (or raises the next queued error)."""

    def __init__(self, delay: float = 0.01) -> None:
        self.calls: list[dict[str, Any]] = []
        self.errors: list[Exception] = []
        self.delay = delay

    async def __call__(self, **kwargs: Any) -> OrderAck:
        self.calls.append(kwargs)
        await asyncio.sleep(self.delay)
        if self.errors:
            raise self.errors.pop(0)
        return OrderAck(order_no=f"{len(self.calls):07d}", exchange="KRX")


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SignalRow

    key = factory.Sequence(lambda n: f"test:{n:06d}:{DAY}:entry")
    strategy = "first_tick"
    account_no = factory.LazyFunction(lambda: settings.KIWOOM_ACCOUNT)
    code = "005930"
    name = "삼성전자"
    side = "buy"
    day = DAY
    at = factory.LazyFunction(lambda: at("09:10:00"))
    price = 70_000
    reason = "first_tick"
    status = "new"


class TradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "trades.Trade"

    account_no = factory.LazyFunction(lambda: settings.KIWOOM_ACCOUNT)
    date = DAY
    code = "005930"
    name = "삼성전자"
    entry_time = factory.LazyFunction(lambda: at("09:10:05"))
    exit_time = factory.LazyFunction(lambda: at("10:30:00"))
    entry_price = 70_300
    exit_price = 71_000
    quantity = 14
    pnl = 9_800
    pnl_pct = "0.99"
    strategy_tag = "first_tick"
