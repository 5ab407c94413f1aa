"""REST API of the strategy configuration (seed 004 §8.2), thin views.

Reads are open to any logged-in user; writes need the trader role (`IsTraderOrReadOnly`: viewers get
403 and nothing changes). A bad change is a 400 naming each field, and writes nothing.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .engine.runner import REGISTRY
from .present import change_dicts, config_dict
from .selectors import active_configs, config_history
from .services import ConfigInvalid, config_toggle, config_update


def _invalid(exc: ConfigInvalid) -> Response:
    return Response({"detail": "invalid strategy configuration", "errors": exc.errors}, status=400)


class StrategyConfigView(APIView):
    """GET /api/v1/strategy/config — every strategy's active version with its parameter schema;
    PUT {"strategy", "params"?, "enabled"?, "budget_krw"?, "reason"} — a new version of one strategy
    (parameters left out keep their values)."""

    def get(self, request: Request) -> Response:
        return Response({"strategies": [config_dict(row) for row in active_configs()]})

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
