"""API shapes of orders, fills, positions and trades (read-only), and the manual order request."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from apps.trades.models import Fill, Order, OrderTransition, Side, SplitOrder, Trade
from apps.trades.models import OrderType as OrderTypeChoice


class TransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderTransition
        fields = ["at", "from_status", "to_status", "cause", "message"]


class FillSerializer(serializers.ModelSerializer):
    order_id = serializers.UUIDField(source="order.id", read_only=True)
    code = serializers.CharField(source="order.code", read_only=True)
    side = serializers.CharField(source="order.side", read_only=True)

    class Meta:
        model = Fill
        fields = [
            "id",
            "order_id",
            "code",
            "side",
            "cum_quantity",
            "quantity",
            "price",
            "amount",
            "commission",
            "tax",
            "execution_no",
            "source",
            "executed_at",
        ]


class OrderSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    status_label = serializers.CharField(source="get_status_display")
    remaining = serializers.IntegerField()

    class Meta:
        model = Order
        fields = [
            "id",
            "account_no",
            "code",
            "name",
            "side",
            "order_type",
            "exchange",
            "quantity",
            "price",
            "filled_quantity",
            "remaining",
            "avg_fill_price",
            "commission",
            "tax",
            "status",
            "status_label",
            "broker_order_no",
            "original_order_no",
            "kind",
            "parent",
            "split",
            "split_index",
            "strategy_tag",
            "cause",
            "cause_ref",
            "created_by",
            "message",
            "slippage",
            "created_at",
            "submitted_at",
            "accepted_at",
            "finished_at",
        ]


class OrderDetailSerializer(OrderSerializer):
    transitions = TransitionSerializer(many=True)
    fills = FillSerializer(many=True)
    children = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "transitions", "fills", "children"]


class TradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trade
        fields = [
            "id",
            "date",
            "code",
            "name",
            "side",
            "entry_time",
            "exit_time",
            "entry_price",
            "exit_price",
            "quantity",
            "entry_amount",
            "exit_amount",
            "pnl",
            "pnl_pct",
            "commission",
            "tax",
            "news_score",
            "volume_rank",
            "strategy_tag",
            "exit_order",
            "closed_position",
        ]


# Far above any KRX share price (the top tick band starts at 500,000 won), far below PostgreSQL's bigint
# even times the largest quantity: a price past it is a typo or hostile, refused with a 400.
MAX_PRICE_KRW = 1_000_000_000


class ManualOrderSerializer(serializers.Serializer):
    """A trader's buy or sell. Integer KRW; a limit order needs a price."""

    code = serializers.RegexField(r"^[0-9A-Z]{6}$")
    side = serializers.ChoiceField(choices=Side.choices)
    order_type = serializers.ChoiceField(
        choices=OrderTypeChoice.choices, default=OrderTypeChoice.LIMIT
    )
    quantity = serializers.IntegerField(min_value=1, max_value=10_000_000)
    price = serializers.IntegerField(
        min_value=1, max_value=MAX_PRICE_KRW, required=False, allow_null=True
    )
    strategy_tag = serializers.CharField(max_length=50, required=False, allow_blank=True)
    reference_price = serializers.IntegerField(
        min_value=1, max_value=MAX_PRICE_KRW, required=False, allow_null=True
    )
    slippage_cap_pct = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        min_value=Decimal("0"),
        max_value=Decimal("30"),
        required=False,
        allow_null=True,
    )
    split_parts = serializers.IntegerField(min_value=1, max_value=100, required=False)
    split_interval = serializers.IntegerField(min_value=0, max_value=3600, required=False)
    split_by_depth = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("order_type", OrderTypeChoice.LIMIT) == OrderTypeChoice.LIMIT:
            if not attrs.get("price"):
                raise serializers.ValidationError({"price": "지정가 주문에는 가격이 필요합니다"})
        else:
            attrs["price"] = None
        if (
            attrs.get("split_by_depth")
            and not attrs.get("price")
            and attrs.get("slippage_cap_pct") is None
        ):
            raise serializers.ValidationError(
                {"split_by_depth": "호가 잔량 분할에는 지정가 또는 슬리피지 한도가 필요합니다"}
            )
        return attrs


class AmendSerializer(serializers.Serializer):
    price = serializers.IntegerField(min_value=1, max_value=MAX_PRICE_KRW)


class SplitOrderSerializer(serializers.ModelSerializer):
    """A split parent: its schedule and the aggregate of its children."""

    status_label = serializers.CharField(source="get_status_display")
    remaining = serializers.IntegerField()

    class Meta:
        model = SplitOrder
        fields = [
            "id",
            "account_no",
            "code",
            "name",
            "side",
            "mode",
            "quantity",
            "limit_price",
            "reference_price",
            "slippage_cap_pct",
            "parts",
            "interval_seconds",
            "chase_seconds",
            "chase_max_amends",
            "chase_ticks",
            "status",
            "status_label",
            "children_sent",
            "next_at",
            "filled_quantity",
            "remaining",
            "filled_amount",
            "avg_fill_price",
            "commission",
            "tax",
            "slippage",
            "strategy_tag",
            "cause",
            "message",
            "created_at",
            "finished_at",
        ]


class SplitOrderDetailSerializer(SplitOrderSerializer):
    orders = serializers.SerializerMethodField()

    class Meta(SplitOrderSerializer.Meta):
        fields = [*SplitOrderSerializer.Meta.fields, "orders"]

    def get_orders(self, split: SplitOrder) -> list[dict]:
        """The children in order (amend children next to the child they replaced)."""
        rows = split.orders.select_related("created_by").order_by("split_index", "created_at")
        return OrderSerializer(rows, many=True).data
