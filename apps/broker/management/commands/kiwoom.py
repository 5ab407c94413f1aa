"""`manage.py kiwoom`: a trader's terminal onto the configured broker (check keys on day one).

    manage.py kiwoom token [--issue | --revoke]
    manage.py kiwoom quote 005930
    manage.py kiwoom balance
    manage.py kiwoom orders
    manage.py kiwoom conditions

Thin: parses, calls the broker contract, prints. Never prints a credential or a token.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.broker.backends import get_broker
from apps.broker.backends.kiwoom import KiwoomBroker
from apps.broker.contract import Broker, BrokerError
from krx import KST


def _krw(value: int | None) -> str:
    return "—" if value is None else f"{value:,}원"


def _num(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _pct(value: object) -> str:
    return "—" if value is None else f"{value:+}%"


class Command(BaseCommand):
    help = "Inspect the Kiwoom connection: token status, quote, balance, open orders, conditions."
    # An inspection command: the system checks import every URLconf (DRF, pandas, ...) for ~1 s;
    # runserver, migrate and `manage.py check` still run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        token = sub.add_parser("token", help="token status (shared by every process)")
        group = token.add_mutually_exclusive_group()
        group.add_argument("--issue", action="store_true", help="issue one if none is stored")
        group.add_argument("--revoke", action="store_true", help="revoke the stored token")
        quote = sub.add_parser("quote", help="current price of a stock")
        quote.add_argument("code")
        sub.add_parser("balance", help="cash, evaluation and holdings")
        sub.add_parser("orders", help="open (unfilled) orders")
        sub.add_parser("conditions", help="condition searches saved in HTS")

    def handle(self, *args: Any, **options: Any) -> None:
        broker = get_broker()
        try:
            getattr(self, f"_{options['action']}")(broker, options)
        except BrokerError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from None

    def _token(self, broker: Broker, options: dict[str, Any]) -> None:
        if isinstance(broker, KiwoomBroker):
            if options.get("revoke"):
                revoked = broker.client.revoke_token()
                self.stdout.write("token revoked" if revoked else "no token stored")
                return
            if options.get("issue"):
                broker.client.ensure_token()
        info = broker.token_status()
        if info.expires_at is None:
            self.stdout.write(f"app key {info.app_key_hint}: no token stored (use --issue)")
            return
        state = "valid" if info.valid else "expired or about to expire"
        expires = info.expires_at.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST")
        self.stdout.write(f"app key {info.app_key_hint}: token {state}, expires {expires}")

    def _quote(self, broker: Broker, options: dict[str, Any]) -> None:
        q = broker.quote(options["code"])
        self.stdout.write(
            f"{q.code} {q.name}  {_krw(q.price)}  {q.change:+,} ({_pct(q.change_rate)})  "
            f"O {_num(q.open)} H {_num(q.high)} L {_num(q.low)}  vol {q.volume:,}  "
            f"limits {_num(q.lower_limit)}–{_num(q.upper_limit)}"
        )

    def _balance(self, broker: Broker, options: dict[str, Any]) -> None:
        b = broker.balance()
        self.stdout.write(
            f"cash {_krw(b.cash)}  orderable {_krw(b.orderable)}  D+2 {_krw(b.d2_cash)}\n"
            f"purchase {_krw(b.total_purchase)}  evaluation {_krw(b.total_evaluation)}  "
            f"P/L {b.total_profit_loss:+,}원 ({b.total_return_rate}%)  "
            f"assets {_krw(b.estimated_assets)}"
        )
        for h in broker.holdings():
            self.stdout.write(
                f"  {h.code} {h.name}  {h.quantity:,}주 @ {_num(h.average_price)}"
                f"  now {_num(h.current_price)}  P/L {h.profit_loss:+,}원 ({_pct(h.return_rate)})"
            )

    def _orders(self, broker: Broker, options: dict[str, Any]) -> None:
        orders = broker.open_orders()
        if not orders:
            self.stdout.write("no open orders")
        for o in orders:
            at = o.at.astimezone(KST).strftime("%H:%M:%S") if o.at else "--:--:--"
            self.stdout.write(
                f"  {o.order_no} {at} {o.side.value:4} {o.code} {o.name}  {o.quantity:,}주 "
                f"@ {_num(o.price)} ({o.order_type_name})  remaining {o.remaining:,}  "
                f"[{o.status.value}]"
            )

    def _conditions(self, broker: Broker, options: dict[str, Any]) -> None:
        conditions = broker.conditions()
        if not conditions:
            self.stdout.write("no condition searches saved")
        for c in conditions:
            self.stdout.write(f"  {c.seq:>3}  {c.name}")
