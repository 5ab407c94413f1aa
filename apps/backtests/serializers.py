"""Serializers of the backtests API (explicit, so the OpenAPI schema documents them).

`BacktestCreateSerializer` checks the body's shape (types, ranges); the strategy, its parameters and the
range are then validated by `services.backtest_create`, the code `manage.py backtest` uses. The launch
form of the page goes through the same serializer (`forms_data` turns its fields into this body).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import BacktestRun, BacktestTrade, RunStatus
from .selectors import UNIVERSES

CODE_RE = r"^[0-9A-Z]{6}$"
FILL_MODELS = ("bars", "tape")


class BacktestOptionsSerializer(serializers.Serializer):
    budget_krw = serializers.IntegerField(min_value=1, max_value=10**13, required=False)
    cash_krw = serializers.IntegerField(min_value=1, max_value=10**13, required=False)
    participation = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        max_value=Decimal("1"),
        required=False,
    )
    slippage_ticks = serializers.IntegerField(min_value=0, max_value=100, required=False)
    assume_news_score = serializers.IntegerField(
        min_value=-100, max_value=100, required=False, allow_null=True
    )
    # "bars" (default, fast) or "tape": the simulator's tape and matching, paper's model (tape.py)
    fill_model = serializers.ChoiceField(
        choices=FILL_MODELS,
        required=False,
        error_messages={
            "invalid_choice": _("체결 모델은 bars 또는 tape 중 하나입니다 (받은 값: {input}).")
        },
    )


class BacktestCreateSerializer(serializers.Serializer):
    """POST /api/v1/backtests: a strategy, a range, codes or a universe, parameters (over the active
    configuration's values, else the defaults) and run options."""

    strategy = serializers.CharField(max_length=50)
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    codes = serializers.ListField(
        child=serializers.RegexField(CODE_RE), required=False, max_length=3000, default=list
    )
    universe = serializers.ChoiceField(choices=UNIVERSES, required=False, allow_blank=True)
    params = serializers.DictField(required=False, default=dict)
    options = BacktestOptionsSerializer(required=False)

    def validate_params(self, value: dict[str, Any]) -> dict[str, Any]:
        for key, raw in value.items():
            if isinstance(raw, dict):
                raise serializers.ValidationError(f"{key}: a value or a list is expected")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("codes") and attrs.get("universe"):
            raise serializers.ValidationError({"codes": ["give codes or a universe, not both"]})
        options = dict(attrs.get("options") or {})
        if "participation" in options:
            options["participation"] = str(options["participation"])
        attrs["options"] = {k: v for k, v in options.items() if v is not None}
        return attrs


class BacktestRunSerializer(serializers.ModelSerializer):
    """A run in the list: what it ran and where it is."""

    status_label = serializers.CharField(source="get_status_display", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    total_pnl = serializers.SerializerMethodField()
    return_pct = serializers.SerializerMethodField()

    class Meta:
        model = BacktestRun
        fields = [
            "id",
            "strategy",
            "params",
            "options",
            "date_from",
            "date_to",
            "codes",
            "universe",
            "status",
            "status_label",
            "progress",
            "days_done",
            "days_total",
            "cancel_requested",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "elapsed_seconds",
            "bars",
            "total_pnl",
            "return_pct",
        ]
        read_only_fields = fields

    def get_total_pnl(self, run: BacktestRun) -> int | None:
        return (run.metrics or {}).get("total_pnl")

    def get_return_pct(self, run: BacktestRun) -> str | None:
        return (run.metrics or {}).get("return_pct")


class BacktestTradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = BacktestTrade
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
            "closed_position",
        ]
        read_only_fields = fields


class EquityPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    equity = serializers.IntegerField(help_text="KRW at the day's close")
    drawdown_krw = serializers.IntegerField()
    drawdown_pct = serializers.DecimalField(max_digits=9, decimal_places=4)


def equity_series(run: BacktestRun) -> list[dict[str, Any]]:
    """The run's equity curve (one point per day's close) with the drawdown from the running peak
    (starting from the run's cash)."""
    peak = int((run.metrics or {}).get("start_equity") or run.options.get("cash_krw") or 0)
    out = []
    for at, value in run.equity or []:
        peak = max(peak, int(value))
        dd = peak - int(value)
        pct = (Decimal(dd) * 100 / peak).quantize(Decimal("0.0001")) if peak else Decimal(0)
        out.append({"time": at, "equity": int(value), "drawdown_krw": dd, "drawdown_pct": pct})
    return out


class BacktestRunDetailSerializer(BacktestRunSerializer):
    """GET /api/v1/backtests/{id}: the run, its metrics, equity series and trades (at most 5,000)."""

    metrics = serializers.JSONField(read_only=True)
    equity = serializers.SerializerMethodField()
    trades = serializers.SerializerMethodField()
    is_final = serializers.BooleanField(read_only=True)

    class Meta(BacktestRunSerializer.Meta):
        fields = [
            *BacktestRunSerializer.Meta.fields,
            "is_final",
            "metrics",
            "equity",
            "trades",
            "data_note",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(EquityPointSerializer(many=True))
    def get_equity(self, run: BacktestRun) -> list[dict[str, Any]]:
        return EquityPointSerializer(equity_series(run), many=True).data

    @extend_schema_field(BacktestTradeSerializer(many=True))
    def get_trades(self, run: BacktestRun) -> list[dict[str, Any]]:
        if run.status != RunStatus.DONE and run.status != RunStatus.CANCELLED:
            return []
        return BacktestTradeSerializer(run.trades.all()[:5000], many=True).data
