"""OpenAPI documentation helpers shared by every app's API (drf-spectacular).

The views return plain dictionaries in many places; the serializers here and in each app's `openapi.py`
describe those bodies for the schema only (they never validate or render anything). Keep them true: the
fuzz test (`apps/core/tests/test_api_schema.py`) checks every 2xx body against them.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.conf import settings
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.response import Response

__all__ = [
    "IDEMPOTENCY_KEY",
    "CachedSchemaView",
    "DetailSerializer",
    "ErrorsSerializer",
    "ReasonSerializer",
    "RefusalSerializer",
    "errors",
    "query",
]


class DetailSerializer(serializers.Serializer):
    """Every error body: a human-readable `detail` (other keys may name fields)."""

    detail = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    """A refused change: `detail` and the reasons per field; nothing was written."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class RiskReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class RefusalSerializer(serializers.Serializer):
    """An order the executor or the risk engine refused (nothing was sent)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    reasons = RiskReasonSerializer(many=True, required=False)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


# DRF's validation errors: {field: [messages]} (or {"detail": ...}); documented as a free-form object.
VALIDATION = OpenApiResponse(
    OpenApiTypes.OBJECT, description="invalid input: messages by field; nothing changed"
)

_ERRORS: dict[int, OpenApiResponse] = {
    400: VALIDATION,
    401: OpenApiResponse(DetailSerializer, description="not logged in"),
    403: OpenApiResponse(DetailSerializer, description="not allowed (writes need the trader role)"),
    404: OpenApiResponse(DetailSerializer, description="not found"),
    409: OpenApiResponse(DetailSerializer, description="conflict with the current state"),
    429: OpenApiResponse(DetailSerializer, description="rate limited (Retry-After)"),
    502: OpenApiResponse(DetailSerializer, description="the broker failed the request"),
    503: OpenApiResponse(DetailSerializer, description="the broker is unavailable"),
}


def errors(*codes: int, **overrides: Any) -> dict[int, Any]:
    """Error responses by status code (401, 403 and 429 are always possible and always listed)."""
    out: dict[int, Any] = {code: _ERRORS[code] for code in (401, 403, 429, *codes)}
    for code, response in overrides.items():
        out[int(code.lstrip("_"))] = response
    return out


def query(name: str, description: str, kind: Any = str, **kwargs: Any) -> OpenApiParameter:
    """An optional query parameter."""
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, **kwargs)


def idempotency_key(*, required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        "Idempotency-Key",
        str,
        OpenApiParameter.HEADER,
        required=required,
        description="1–100 characters; the same key again returns the first result, nothing is "
        "sent twice",
    )


IDEMPOTENCY_KEY = idempotency_key(required=True)


def paged(name: str, item: serializers.BaseSerializer) -> Any:
    """A page of `apps.core.pagination.LimitOffsetPages` built by hand: count, next, previous, results,
    count_exact (`item`: a serializer instance with many=True)."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
            "count_exact": serializers.BooleanField(
                help_text="false: more rows than LIST_COUNT_CAP, `count` is the cap"
            ),
        },
    )


# DRF renders a `TimeField` as "HH:MM[:SS[.ffffff]]", without the UTC offset that OpenAPI's `time` format
# (RFC 3339 full-time) requires: say what the API really sends.
_TIME = {"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"}


def _plain_times(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            del node["format"]
            node.update(_TIME)
            node.setdefault("description", "local time (KST) HH:MM[:SS[.ffffff]]")
        for value in node.values():
            _plain_times(value)
    elif isinstance(node, list):
        for value in node:
            _plain_times(value)


def postprocess_plain_times(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    _plain_times(result)
    return result


class CachedSchemaView(SpectacularAPIView):
    """`GET /api/v1/schema/`: the schema is the same for every reader (public generation), so it is built
    once per process and language (about a second of CPU each time otherwise)."""

    _cache: ClassVar[dict[tuple[str, str | None], Any]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def _get_schema_response(self, request: Any) -> Response:
        language = translation.get_language() or ""
        version = self.api_version or request.version or self._get_version_parameter(request)
        if language not in dict(settings.LANGUAGES):  # `?lang=` of anything: not worth a slot
            return super()._get_schema_response(request)
        key = (language, version)
        with self._lock:
            data = self._cache.get(key)
        if data is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            data = generator.get_schema(request=request, public=self.serve_public)
            with self._lock:
                self._cache[key] = data
        filename = self._get_filename(request, version)
        return Response(data, headers={"Content-Disposition": f'inline; filename="{filename}"'})
