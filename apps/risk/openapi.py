"""OpenAPI shapes of the risk API's bodies (documentation only: `present.py` builds the real ones and
`forms.RiskConfigForm` validates a new configuration)."""

from __future__ import annotations

from decimal import Decimal as D

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from .check import EXCLUSION_KINDS
from .models import State


def _pct(**kw) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=True, **kw)


class RiskConfigFieldsSerializer(serializers.Serializer):
    stop_loss_pct = _pct(min_value=D(-10), max_value=D(-1))
    take_profit_pct = _pct(min_value=D("0.01"), max_value=D(100), allow_null=True)
    trailing_stop_pct = _pct(min_value=D("0.01"), max_value=D(50), allow_null=True)
    exit_before_close_minutes = serializers.IntegerField(
        min_value=0, max_value=120, allow_null=True
    )
    weight_pct = _pct(min_value=D("0.01"), max_value=D(100))
    max_positions = serializers.IntegerField(min_value=1, max_value=100)
    max_daily_loss_krw = serializers.IntegerField(min_value=1, max_value=10**13, allow_null=True)
    max_daily_loss_pct = _pct(min_value=D("0.01"), max_value=D(100), allow_null=True)
    max_order_value = serializers.IntegerField(min_value=1, max_value=10**13, allow_null=True)
    max_entries_per_minute = serializers.IntegerField(min_value=1, max_value=1000, allow_null=True)
    no_entry_before_close_minutes = serializers.IntegerField(min_value=0, max_value=390)
    excluded_kinds = serializers.ListField(child=serializers.ChoiceField(list(EXCLUSION_KINDS)))
    reduce_at_pct = _pct(min_value=D(1), max_value=D(100))


class RiskConfigSerializer(RiskConfigFieldsSerializer):
    version = serializers.IntegerField(allow_null=True)
    author = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())


class RiskConfigChangeSerializer(RiskConfigFieldsSerializer):
    """PUT body: fields left out keep the active values; `reason` is required."""

    reason = serializers.CharField(max_length=200)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "reason":
                field.required = False


class GateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(State.choices)
    switch = serializers.BooleanField()
    entries_allowed = serializers.BooleanField()


class SystemSwitchSerializer(GateSerializer):
    changed = serializers.BooleanField()


class RiskStateSerializer(GateSerializer):
    since = serializers.DateTimeField(allow_null=True)
    cause = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    by = serializers.CharField(allow_null=True)
    config_version = serializers.IntegerField(allow_null=True)
    account = serializers.CharField(allow_blank=True)
    day = serializers.DateField()
    opening_equity = serializers.IntegerField(allow_null=True)
    realized_pnl = serializers.IntegerField()
    unrealized_pnl = serializers.IntegerField()
    pnl = serializers.IntegerField()
    loss_budget = serializers.IntegerField(allow_null=True)
    loss_budget_left = serializers.IntegerField(allow_null=True)
    loss_budget_used_pct = serializers.CharField(allow_null=True)
    reduce_at_pct = serializers.CharField()
    exposure = serializers.IntegerField()
    positions = serializers.IntegerField()
    max_positions = serializers.IntegerField()
    states = serializers.ListField(child=serializers.CharField())
    vi = inline_serializer(
        "ViState",
        {
            "code": serializers.CharField(),
            "kind": serializers.CharField(),
            "price": serializers.IntegerField(allow_null=True),
            "since": serializers.JSONField(),
        },
        many=True,
    )


class LiquidationLineSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    quantity = serializers.IntegerField()
    price = serializers.IntegerField(allow_null=True)
    orders = serializers.IntegerField()
    sold = serializers.IntegerField()
    left = serializers.IntegerField()
    state = serializers.ChoiceField(["pending", "sent", "sold", "blocked", "resting"])
    reason = serializers.CharField(allow_blank=True)


class LiquidationRunSerializer(serializers.Serializer):
    id = serializers.CharField()
    account = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    requested_by = serializers.CharField(allow_blank=True)
    created_at = serializers.CharField()
    status = serializers.ChoiceField(
        ["queued", "cancelling", "selling", "watching", "done", "incomplete", "failed"]
    )
    cancel_total = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    cancel_failed = serializers.ListField(child=serializers.CharField())
    lines = LiquidationLineSerializer(many=True)
    message = serializers.CharField(allow_blank=True)
    finished_at = serializers.CharField(allow_null=True)
    checks = serializers.IntegerField()
    positions_total = serializers.IntegerField()
    sold_out = serializers.IntegerField()
    unsold = LiquidationLineSerializer(many=True)
    finished = serializers.BooleanField()
