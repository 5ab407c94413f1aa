"""API shapes of the accounts app. Keys are write-only: responses carry only masked hints."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import BalanceSnapshot, BrokerAccount, HoldingSnapshot


class AccountSerializer(serializers.ModelSerializer):
    app_key = serializers.CharField(write_only=True, required=False, allow_blank=True)
    secret_key = serializers.CharField(write_only=True, required=False, allow_blank=True)
    account_no_masked = serializers.CharField(read_only=True)
    app_key_masked = serializers.CharField(read_only=True)
    has_keys = serializers.BooleanField(read_only=True)

    class Meta:
        model = BrokerAccount
        fields = [
            "id",
            "account_no",
            "account_no_masked",
            "label",
            "mode",
            "app_key",
            "secret_key",
            "app_key_masked",
            "has_keys",
            "is_active",
            "updated_at",
        ]
        read_only_fields = ["id", "is_active", "updated_at"]

    def validate(self, attrs: dict) -> dict:
        for name in ("app_key", "secret_key"):
            if not attrs.get(name):
                # Empty keeps the stored value (write-only: the client never sees it to send it back).
                attrs.pop(name, None)
                if self.instance is None:
                    raise serializers.ValidationError({name: "required"})
        return attrs

    def to_representation(self, instance: BrokerAccount) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        from apps.core.permissions import can_trade

        if request is None or not can_trade(request.user):
            data["account_no"] = instance.account_no_masked
        return data


class BalanceSerializer(serializers.ModelSerializer):
    day_pnl = serializers.IntegerField(source="day_profit_loss", allow_null=True)
    account = serializers.CharField(source="account.account_no_masked")

    class Meta:
        model = BalanceSnapshot
        fields = [
            "account",
            "cash",
            "d2_cash",
            "orderable",
            "total_purchase",
            "total_evaluation",
            "total_profit_loss",
            "total_return_rate",
            "estimated_assets",
            "day_pnl",
            "taken_at",
            "source",
        ]


class HoldingPositionSerializer(serializers.ModelSerializer):
    qty = serializers.IntegerField(source="quantity")
    avg_price = serializers.IntegerField(source="average_price", allow_null=True)
    price = serializers.IntegerField(source="current_price", allow_null=True)
    pnl = serializers.IntegerField(source="profit_loss")

    class Meta:
        model = HoldingSnapshot
        fields = [
            "code",
            "name",
            "qty",
            "sellable_quantity",
            "avg_price",
            "price",
            "purchase_amount",
            "evaluation_amount",
            "pnl",
            "return_rate",
        ]
