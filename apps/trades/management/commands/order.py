"""`manage.py order buy|sell|cancel|amend …`: a trader's order from the terminal, through the executor.

manage.py order buy 005930 10 --price 70000          # limit
manage.py order sell 005930 10 --market              # market
manage.py order cancel <order id>
manage.py order amend <order id> --price 70100
manage.py order buy 005930 300 --price 70500 --split 3 --interval 60   # 3 children, 60 s apart
manage.py order buy 005930 300 --cap 0.5 --by-depth --interval 5       # sized by the book within the cap
manage.py order cancel <split id>                                      # stops a split, cancels its children

A split (`--split N` > 1 or `--by-depth`) writes the parent and queues `trades.split_step` on the `orders`
queue: a worker (and beat, for the sweep) must run to send its children.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.trades.models import Cause, Order, OrderType, SplitMode, SplitOrder
from apps.trades.services import (
    OrderIntent,
    OrderRefused,
    order_amend,
    order_cancel,
    order_submit,
)
from apps.trades.services.split import SplitRequest, split_cancel, split_enqueue


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
        parser.add_argument("--ref", type=int, help="reference price for the slippage cap (KRW)")
        parser.add_argument(
            "--cap", type=Decimal, help="slippage cap in %% from --ref (default ref: current price)"
        )
        parser.add_argument("--split", type=int, default=1, help="N child orders (a split)")
        parser.add_argument(
            "--interval", type=int, default=0, help="seconds between children (exchange clock)"
        )
        parser.add_argument(
            "--by-depth",
            action="store_true",
            help="size children by the visible book within the limit/cap",
        )
        parser.add_argument("--chase", type=int, help="seconds before a child is amended")
        parser.add_argument("--max-amends", type=int, help="amends before a child is cancelled")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            order = self._run(o)
        except OrderRefused as exc:
            raise CommandError(exc.reason) from exc
        if isinstance(order, SplitOrder):
            self.stdout.write(
                f"{order.pk} split {order.mode} {order.side} {order.code} {order.quantity} "
                f"x{order.parts} every {order.interval_seconds}s "
                f"limit {order.limit_price or '시장가'} → {order.status}"
            )
            return
        self.stdout.write(
            f"{order.pk} {order.side} {order.code} {order.quantity}@{order.price or '시장가'} "
            f"→ {order.status} {order.broker_order_no} {order.message}".rstrip()
        )

    def _run(self, o: dict[str, Any]) -> Order | SplitOrder:
        action = o["action"]
        if action in ("buy", "sell"):
            if not o["quantity"]:
                raise CommandError("quantity is required")
            if not o["market"] and not o["price"] and o["cap"] is None:
                raise CommandError("--price, --market or --cap is required")
            market = o["market"] or not o["price"]
            intent = OrderIntent(
                code=o["target"],
                side=action,
                quantity=o["quantity"],
                order_type=OrderType.MARKET if market else OrderType.LIMIT,
                price=None if market else o["price"],
                account_no=o["account"],
                cause=Cause.USER,
                cause_ref="cli",
                idempotency_key=o["key"],
                strategy_tag=o["tag"],
                reference_price=o["ref"],
                slippage_cap_pct=o["cap"],
            )
            if o["split"] > 1 or o["by_depth"]:
                return self._split(intent, o)
            return order_submit(intent)
        try:
            order_id = uuid.UUID(o["target"])
        except ValueError as exc:
            raise CommandError("cancel/amend take our order id (a UUID)") from exc
        if action == "cancel" and SplitOrder.objects.filter(pk=order_id).exists():
            return split_cancel(order_id, cause="cli")
        if action == "cancel":
            return order_cancel(order_id, cause="cli")
        if not o["price"]:
            raise CommandError("amend needs --price")
        return order_amend(order_id, o["price"], cause="cli")

    def _split(self, intent: OrderIntent, o: dict[str, Any]) -> SplitOrder:
        if o["split"] < 1 or o["interval"] < 0:
            raise CommandError("--split must be 1 or more and --interval 0 or more")
        by_depth = o["by_depth"]
        request = SplitRequest(
            intent,
            mode=SplitMode.DEPTH if by_depth else SplitMode.TIME,
            parts=o["split"] if o["split"] > 1 or not by_depth else 10,
            interval_seconds=o["interval"],
            chase_seconds=o["chase"],
            chase_max_amends=o["max_amends"],
        )
        parent, _ = split_enqueue(request)
        return parent
