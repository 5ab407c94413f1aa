"""`manage.py order buy|sell|cancel|amend …`: a trader's order from the terminal, through the executor.

manage.py order buy 005930 10 --price 70000          # limit
manage.py order sell 005930 10 --market              # market
manage.py order cancel <order id>
manage.py order amend <order id> --price 70100
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.trades.models import Cause, Order, OrderType
from apps.trades.services import (
    OrderIntent,
    OrderRefused,
    order_amend,
    order_cancel,
    order_submit,
)


class Command(BaseCommand):
    help = "Place, cancel or amend an order through the executor (the same path as the order form)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["buy", "sell", "cancel", "amend"])
        parser.add_argument("target", help="stock code (buy/sell) or our order id (cancel/amend)")
        parser.add_argument("quantity", nargs="?", type=int)
        parser.add_argument("--price", type=int)
        parser.add_argument("--market", action="store_true", help="market order")
        parser.add_argument("--account", default="")
        parser.add_argument("--key", default=None, help="idempotency key (a retry reuses it)")
        parser.add_argument("--tag", default="", help="strategy tag")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            order = self._run(o)
        except OrderRefused as exc:
            raise CommandError(exc.reason) from exc
        self.stdout.write(
            f"{order.pk} {order.side} {order.code} {order.quantity}@{order.price or '시장가'} "
            f"→ {order.status} {order.broker_order_no} {order.message}".rstrip()
        )

    def _run(self, o: dict[str, Any]) -> Order:
        action = o["action"]
        if action in ("buy", "sell"):
            if not o["quantity"]:
                raise CommandError("quantity is required")
            if not o["market"] and not o["price"]:
                raise CommandError("--price or --market is required")
            intent = OrderIntent(
                code=o["target"],
                side=action,
                quantity=o["quantity"],
                order_type=OrderType.MARKET if o["market"] else OrderType.LIMIT,
                price=None if o["market"] else o["price"],
                account_no=o["account"],
                cause=Cause.USER,
                cause_ref="cli",
                idempotency_key=o["key"],
                strategy_tag=o["tag"],
            )
            return order_submit(intent)
        try:
            order_id = uuid.UUID(o["target"])
        except ValueError as exc:
            raise CommandError("cancel/amend take our order id (a UUID)") from exc
        if action == "cancel":
            return order_cancel(order_id, cause="cli")
        if not o["price"]:
            raise CommandError("amend needs --price")
        return order_amend(order_id, o["price"], cause="cli")
