"""REST API of the strategy configuration (seed 004 §8.2), thin views.

Reads are open to any logged-in user; writes need the trader role (`IsTraderOrReadOnly`: viewers get
403 and nothing changes). A bad change is a 400 naming each field, and writes nothing.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import ErrorsSerializer, errors, query

from .engine.runner import REGISTRY
from .present import change_dicts, config_dict
from .selectors import active_configs, config_history
from .services import ConfigInvalid, config_toggle, config_update

_STRATEGY = serializers.ChoiceField(sorted(REGISTRY), help_text="a strategy's name")
_PARAM = inline_serializer(
    "StrategyParam",
    {
        "name": serializers.CharField(),
        "type": serializers.CharField(),
        "default": serializers.JSONField(),
        "min": serializers.JSONField(),
        "max": serializers.JSONField(),
        "nullable": serializers.BooleanField(),
        "label": serializers.CharField(),
        "label_en": serializers.CharField(),
        "help": serializers.CharField(allow_blank=True),
    },
    many=True,
)
_CONFIG_FIELDS = {
    "strategy": serializers.CharField(),
    "label": serializers.CharField(),
    "label_en": serializers.CharField(),
    "version": serializers.IntegerField(),
    "enabled": serializers.BooleanField(),
    "budget_krw": serializers.IntegerField(allow_null=True),
    "params": serializers.DictField(help_text="parameter values by name (decimals as strings)"),
    "schema": _PARAM,
    "author": serializers.CharField(allow_null=True),
    "reason": serializers.CharField(allow_blank=True),
    "created_at": serializers.DateTimeField(),
}
_CHANGE = inline_serializer(
    "StrategyChange",
    {
        "field": serializers.CharField(),
        "before": serializers.JSONField(),
        "after": serializers.JSONField(),
    },
    many=True,
)
_CONFIGS = inline_serializer(
    "StrategyConfigs",
    {"strategies": inline_serializer("StrategyConfig", _CONFIG_FIELDS, many=True)},
)
_CHANGED = inline_serializer(
    "StrategyConfigChanged", {**_CONFIG_FIELDS, "changed": serializers.BooleanField()}
)
_HISTORY = inline_serializer(
    "StrategyConfigVersion", {**_CONFIG_FIELDS, "changes": _CHANGE}, many=True
)
_PUT = inline_serializer(
    "StrategyConfigChange",
    {
        "strategy": _STRATEGY,
        "params": serializers.DictField(required=False, help_text="parameters to change, by name"),
        "budget_krw": serializers.IntegerField(required=False, allow_null=True),
        "enabled": serializers.BooleanField(required=False),
        "reason": serializers.CharField(max_length=200),
    },
)
_TOGGLE = inline_serializer(
    "StrategyToggle",
    {
        "strategy": _STRATEGY,
        "enabled": serializers.BooleanField(),
        "reason": serializers.CharField(max_length=200, required=False),
    },
)
_BAD = errors(_400=ErrorsSerializer)


def _invalid(exc: ConfigInvalid) -> Response:
    return Response({"detail": "invalid strategy configuration", "errors": exc.errors}, status=400)


class StrategyConfigView(APIView):
    """GET /api/v1/strategy/config — every strategy's active version with its parameter schema;
    PUT {"strategy", "params"?, "enabled"?, "budget_krw"?, "reason"} — a new version of one strategy
    (parameters left out keep their values)."""

    @extend_schema(
        summary="Strategy configuration (seed 004 §8.2)", responses={200: _CONFIGS, **errors()}
    )
    def get(self, request: Request) -> Response:
        return Response({"strategies": [config_dict(row) for row in active_configs()]})

    @extend_schema(
        summary="New strategy configuration version (trader, seed 004 §8.2)",
        description="A bad value → 400 naming each field (a parameter by its name), nothing written; "
        "`changed` false: nothing changed, no version written.",
        request=_PUT,
        examples=[
            OpenApiExample(
                "fewer candidates",
                {
                    "strategy": "opening_breakout",
                    "params": {"top_n": 3},
                    "budget_krw": 5000000,
                    "reason": "test a narrower pick",
                },
                request_only=True,
            )
        ],
        responses={200: _CHANGED, **_BAD},
    )
    def put(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            return Response({"detail": "a JSON object is expected"}, status=400)
        data = {k: v for k, v in body.items() if k not in ("strategy", "reason")}
        try:
            row, changed = config_update(
                body.get("strategy"), data, user=request.user, reason=body.get("reason", "")
            )
        except ConfigInvalid as exc:
            return _invalid(exc)
        return Response({**config_dict(row), "changed": changed})


class StrategyToggleView(APIView):
    """POST /api/v1/strategy/toggle {"strategy", "enabled", "reason"?} — switch one strategy on/off."""

    @extend_schema(
        summary="Switch a strategy on/off (trader, seed 004 §8.2)",
        request=_TOGGLE,
        examples=[
            OpenApiExample(
                "off",
                {"strategy": "condition_entry", "enabled": False, "reason": "pause"},
                request_only=True,
            )
        ],
        responses={200: _CHANGED, **_BAD},
    )
    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            return Response({"detail": "a JSON object is expected"}, status=400)
        unknown = sorted(set(body) - {"strategy", "enabled", "reason"})
        if unknown:
            return _invalid(
                ConfigInvalid({k: ["알 수 없는 항목입니다 (unknown field)"] for k in unknown})
            )
        try:
            row, changed = config_toggle(
                body.get("strategy"),
                body.get("enabled"),
                user=request.user,
                reason=body.get("reason", ""),
            )
        except ConfigInvalid as exc:
            return _invalid(exc)
        return Response({**config_dict(row), "changed": changed})


class StrategyConfigHistoryView(APIView):
    """GET /api/v1/strategy/config/history?strategy= — versions newest first (at most 200), each with
    what it changed."""

    @extend_schema(
        summary="Strategy configuration versions",
        parameters=[query("strategy", "one strategy's versions", enum=sorted(REGISTRY))],
        responses={200: _HISTORY, **_BAD},
    )
    def get(self, request: Request) -> Response:
        name = request.query_params.get("strategy") or None
        if name is not None and name not in REGISTRY:
            return Response(
                {"detail": "unknown strategy", "errors": {"strategy": [f"unknown: {name}"]}},
                status=400,
            )
        return Response(
            [
                {**config_dict(row), "changes": change_dicts(changes)}
                for row, changes in config_history(name, 200)
            ]
        )
