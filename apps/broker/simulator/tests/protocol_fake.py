"""A tiny, fully predictable stand-in for `exchange.Exchange` used by the protocol tests.

It speaks the same facade and DTOs but has fixed numbers, so tests can assert exact Kiwoom
encodings without depending on the engine's price paths. Events are queued by the test (or by an
order call) and handed out by the next `advance()`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from apps.broker.simulator.dto import (
    AccountSummary,
    Bar,
    BookLevel,
    CashInfo,
    ConditionInfo,
    DailyBar,
    Holding,
    Instrument,
    Market,
    OrderAck,
    OrderAction,
    OrderBook,
    OrderEvent,
    OrderStatus,
    OrderType,
    OrderView,
    Quote,
    SessionPhase,
    Side,
    SimRejection,
    StockStats,
    Tick,
)
from krx import KST

START = dt.datetime(2025, 1, 15, 10, 15, 23, tzinfo=KST)

STOCKS = {
    # code: (name, market, base, price)
    "005930": ("삼성전자", Market.KOSPI, 74_900, 75_000),
    "000660": ("SK하이닉스", Market.KOSPI, 200_000, 196_500),
    "035720": ("카카오", Market.KOSDAQ, 40_000, 40_000),
}


class FakeExchange:
    def __init__(self, start: dt.datetime = START) -> None:
        self._now = start
        self.pending: list[Any] = []
        self.cash_by_account: dict[str, int] = {}
        self.order_seq = 0
        self._orders: dict[str, OrderView] = {}
        self.saved: list[str] = []
        self.n_minute_bars = 1000
        self.n_daily_bars = 700

    # time
    def now(self) -> dt.datetime:
        return self._now

    def advance(self, to: dt.datetime | None = None) -> list[Any]:
        if to is not None and to > self._now:
            self._now = to.astimezone(KST)
        out, self.pending = self.pending, []
        return out

    # accounts
    def open_account(self, account: str, cash: int | None = None) -> None:
        self.cash_by_account.setdefault(account, cash or 100_000_000)

    def _check(self, account: str) -> None:
        if account not in self.cash_by_account:
            raise SimRejection("RC9999", "[2000](RC9999:계좌가 없습니다)")

    def place_order(
        self, account: str, side: Any, code: str, qty: int, price: int = 0, order_type: Any = "0"
    ) -> OrderAck:
        self._check(account)
        if code not in STOCKS:
            raise SimRejection("1902", "[2000](1902:종목 정보가 없습니다)")
        if price and price % 100:
            raise SimRejection("RC4003", "[2000](RC4003:호가단위가 맞지 않습니다)")
        if Side(side) is Side.BUY and qty * max(price, 75_000) > self.cash_by_account[account]:
            raise SimRejection("855056", "[2000](855056:매수증거금이 부족합니다. 1주 매수가능)")
        self.order_seq += 1
        no = str(self.order_seq).zfill(7)
        view = OrderView(
            account=account,
            order_no=no,
            orig_order_no=None,
            base_order_no=no,
            code=code,
            name=STOCKS[code][0],
            side=Side(side),
            action=OrderAction.NEW,
            order_type=OrderType(order_type),
            qty=qty,
            price=price,
            filled_qty=0,
            filled_value=0,
            remaining_qty=qty,
            status=OrderStatus.ACCEPTED,
            is_open=True,
            time=self._now,
            last_fill_no="",
            last_fill_price=0,
            last_fill_qty=0,
            commission=0,
            tax=0,
        )
        self._orders[no] = view
        self.pending.append(self.order_event(view, OrderStatus.ACCEPTED))
        return OrderAck(
            account,
            no,
            None,
            no,
            code,
            Side(side),
            OrderAction.NEW,
            qty,
            price,
            OrderType(order_type),
            self._now,
        )

    def fill(self, order_no: str, qty: int, price: int) -> None:
        """Test hook: fill part of an order and queue the 체결 event."""
        o = self._orders[order_no]
        filled = o.filled_qty + qty
        o2 = OrderView(
            **{
                **_asdict(o),
                "filled_qty": filled,
                "filled_value": o.filled_value + qty * price,
                "remaining_qty": o.qty - filled,
                "status": OrderStatus.FILLED,
                "is_open": filled < o.qty,
                "last_fill_no": "1",
                "last_fill_price": price,
                "last_fill_qty": qty,
                "commission": 11,
            }
        )
        self._orders[order_no] = o2
        self.pending.append(self.order_event(o2, OrderStatus.FILLED, qty, price))

    def order_event(
        self, o: OrderView, status: OrderStatus, fill_qty: int = 0, fill_price: int = 0
    ) -> OrderEvent:
        return OrderEvent(
            account=o.account,
            time=self._now,
            status=status,
            order_no=o.order_no,
            orig_order_no=o.orig_order_no,
            base_order_no=o.base_order_no,
            code=o.code,
            name=o.name,
            side=o.side,
            action=o.action,
            order_type=o.order_type,
            order_qty=o.qty,
            order_price=o.price,
            remaining_qty=o.remaining_qty,
            filled_qty=o.filled_qty,
            filled_value=o.filled_value,
            fill_no="1" if fill_qty else "",
            fill_price=fill_price,
            fill_qty=fill_qty,
            commission=o.commission,
            price=STOCKS[o.code][3],
            best_ask=STOCKS[o.code][3] + 100,
            best_bid=STOCKS[o.code][3],
        )

    def amend_order(self, account: str, orig: str, code: str, qty: int, price: int) -> OrderAck:
        o = self._get(account, orig)
        self.order_seq += 1
        no = str(self.order_seq).zfill(7)
        q = qty or o.remaining_qty
        return OrderAck(
            account,
            no,
            orig,
            o.base_order_no,
            code,
            o.side,
            OrderAction.AMEND,
            q,
            price,
            o.order_type,
            self._now,
        )

    def cancel_order(self, account: str, orig: str, code: str, qty: int = 0) -> OrderAck:
        o = self._get(account, orig)
        self.order_seq += 1
        no = str(self.order_seq).zfill(7)
        q = qty or o.remaining_qty
        return OrderAck(
            account,
            no,
            orig,
            o.base_order_no,
            code,
            o.side,
            OrderAction.CANCEL,
            q,
            0,
            o.order_type,
            self._now,
        )

    def _get(self, account: str, no: str) -> OrderView:
        o = self._orders.get(no)
        if o is None or o.account != account or not o.is_open:
            raise SimRejection("RC4011", "[2000](RC4011:정정/취소할 수량이 없습니다)")
        return o

    def orders(self, account: str, code: str | None = None) -> list[OrderView]:
        return sorted(
            (o for o in self._orders.values() if o.account == account),
            key=lambda o: o.order_no,
            reverse=True,
        )

    def cash(self, account: str) -> CashInfo:
        self._check(account)
        c = self.cash_by_account[account]
        return CashInfo(c, 1_000, c - 1_000, c - 1_000, c, c, 0, 0, 100_000_000)

    def holdings(self, account: str) -> list[Holding]:
        return [
            Holding(
                "005930",
                "삼성전자",
                3,
                3,
                124_500,
                373_500,
                56,
                75_000,
                74_900,
                225_000,
                -148_500,
                Decimal("-39.76"),
                33,
                450,
                3,
                0,
                0,
                0,
            )
        ]

    def summary(self, account: str) -> AccountSummary:
        c = self.cash_by_account[account]
        return AccountSummary(
            account,
            c,
            373_500,
            225_000,
            -148_500,
            Decimal("-39.76"),
            c + 225_000,
            1_234,
            -567,
            100_000_000,
            0,
            0,
        )

    # market
    def instruments(self, market: Any = None) -> list[Instrument]:
        return [
            Instrument(
                code,
                name,
                mkt,
                base,
                5_969_782_550,
                10_000_000,
                listing_date=dt.date(1975, 6, 11),
                industry="전기·전자",
            )
            for code, (name, mkt, base, _) in sorted(STOCKS.items())
        ]

    def instrument(self, code: str) -> Instrument:
        for inst in self.instruments():
            if inst.code == code:
                return inst
        raise SimRejection("1902", f"[1902:종목 정보가 없습니다. 종목코드={code}]")

    def quote(self, code: str) -> Quote:
        if code not in STOCKS:
            raise SimRejection("1902", f"[1902:종목 정보가 없습니다. 종목코드={code}]")
        name, mkt, base, price = STOCKS[code]
        change = price - base
        rate = (Decimal(change) * 100 / base).quantize(Decimal("0.01"))
        sign = "2" if change > 0 else "5" if change < 0 else "3"
        return Quote(
            code,
            name,
            mkt,
            self._now,
            SessionPhase.CONTINUOUS,
            base,
            price,
            change,
            rate,
            sign,
            74_600,
            75_400,
            74_200,
            97_300,
            52_500,
            8_123_456,
            609_259_200_000,
            price + 100,
            price,
            9_534_100,
            700_000_000_000,
            5_969_782_550,
            price * 5_969_782_550,
            74_950,
            88_800,
            49_900,
            dt.date(2024, 9, 10),
            dt.date(2025, 1, 2),
            88_800,
            49_900,
        )

    def order_book(self, code: str) -> OrderBook:
        price = STOCKS[code][3]
        asks = tuple(BookLevel(price + 100 * (i + 1), 1000 + i, 10) for i in range(10))
        bids = tuple(BookLevel(price - 100 * i, 2000 + i, -5) for i in range(10))
        return OrderBook(code, self._now, asks, bids, 10_045, 20_045, 100, -50)

    def minute_bars(
        self, code: str, minutes: int = 1, before: dt.datetime | None = None, limit: int = 900
    ) -> list[Bar]:
        base = STOCKS[code][2]
        first = dt.datetime(2025, 1, 10, 9, 0, tzinfo=KST)
        bars = [
            Bar(
                code,
                first + dt.timedelta(minutes=i * minutes),
                minutes,
                base,
                base + 100,
                base - 100,
                base + (i % 3 - 1) * 100,
                10 + i,
                (10 + i) * base,
                1000 + i,
                base,
            )
            for i in range(self.n_minute_bars)
        ]
        bars.reverse()
        if before is not None:
            bars = [b for b in bars if b.time < before]
        return bars[:limit]

    def daily_bars(self, code: str, end: dt.date | None = None, limit: int = 600) -> list[DailyBar]:
        base = STOCKS[code][2]
        last = dt.date(2025, 1, 15)
        days = [
            DailyBar(
                code,
                last - dt.timedelta(days=i),
                base,
                base + 500,
                base - 500,
                base + 600 if i % 2 else base - 600,
                9_263_135,
                648_525_000_000,
                base,
                Decimal("0.16"),
            )
            for i in range(self.n_daily_bars)
        ]
        if end is not None:
            days = [d for d in days if d.date <= end]
        return days[:limit]

    def stats(self, market: Any = None) -> list[StockStats]:
        out = []
        for i, (code, (name, mkt, base, price)) in enumerate(sorted(STOCKS.items())):
            change = price - base
            rate = (Decimal(change) * 100 / base).quantize(Decimal("0.01"))
            sign = "2" if change > 0 else "5" if change < 0 else "3"
            volume = 1_000_000 * (i + 1)
            out.append(
                StockStats(
                    code,
                    name,
                    mkt,
                    price,
                    base,
                    change,
                    rate,
                    sign,
                    price + 100,
                    price,
                    volume,
                    volume * price,
                    500_000,
                    0,
                    400_000,
                    Decimal("0.02"),
                    600_000,
                    400_000,
                    1234,
                    50_000,
                    60_000,
                    prev_rank_value=i + 1,
                )
            )
        return out

    def recent_volume(self, code: str, minutes: int) -> tuple[int, int]:
        return 1_000 * minutes, 400 * minutes

    def condition_list(self) -> list[ConditionInfo]:
        return [ConditionInfo("0", "거래대금 상위", "value > 0"), ConditionInfo("1", "급등", "x")]

    def condition_members(self, seq: str) -> list[str]:
        if seq == "0":
            return sorted(STOCKS)
        if seq == "1":
            return ["005930"]
        raise SimRejection("RC0000", "unknown condition")

    def save(self, path: Any = None) -> None:
        self.saved.append(str(path))

    def tick(self, code: str = "005930", volume: int = 82, side: Side = Side.BUY) -> Tick:
        _, _, base, price = STOCKS[code]
        return Tick(
            code=code,
            time=self._now,
            price=price,
            change=price - base,
            change_rate_pct=Decimal("0.13"),
            sign="2",
            volume=volume,
            side=side,
            cum_volume=30_379_732,
            cum_value=632_640_000_000,
            open=74_600,
            high=75_400,
            low=74_200,
            best_ask=price + 100,
            best_bid=price,
            base_price=base,
            prev_volume=20_000_000,
            prev_volume_same_time=10_000_000,
            turnover_pct=Decimal("0.51"),
            strength_pct=Decimal("98.92"),
            market_cap=price * 5_969_782_550,
            vwap=74_950,
            buy_volume=600,
            sell_volume=400,
            buy_count=30,
            sell_count=20,
            open_time=dt.datetime(2025, 1, 15, 9, 0, tzinfo=KST),
            high_time=None,
            low_time=None,
            upper_limit_time=None,
            lower_limit_time=None,
        )


def _asdict(o: OrderView) -> dict[str, Any]:
    return {f: getattr(o, f) for f in o.__slots__}
