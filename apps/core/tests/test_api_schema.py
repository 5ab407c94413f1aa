"""The OpenAPI schema (`/api/v1/schema/`, drf-spectacular) is complete and valid: it documents every
`/api/v1/` URL pattern the resolver knows with every method its view answers, every endpoint of seed 004
§8.2 with its documented method, request bodies and responses (no bare objects), and is served with its
docs pages (assets from static/, not a CDN) to logged-in users only."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

PREFIX = "api/v1/"
# The schema and its documentation pages describe the API; they are not part of it.
NOT_IN_SCHEMA = {"/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# Seed 004 §8.2 (product spec v1.0, "REST API 엔드포인트"): method and path.
SEED_8_2 = [
    ("get", "/api/v1/health"),
    ("post", "/api/v1/system/start"),
    ("post", "/api/v1/system/stop"),
    ("get", "/api/v1/account/balance"),
    ("get", "/api/v1/account/positions"),
    ("get", "/api/v1/trades"),
    ("get", "/api/v1/trades/{id}"),
    ("get", "/api/v1/strategy/config"),
    ("put", "/api/v1/strategy/config"),
    ("post", "/api/v1/strategy/toggle"),
    ("get", "/api/v1/risk/config"),
    ("put", "/api/v1/risk/config"),
    ("post", "/api/v1/risk/emergency-sell"),
    ("get", "/api/v1/scanner/top"),
    ("get", "/api/v1/reports/daily"),
    ("get", "/api/v1/reports/metrics"),
]


def api_patterns() -> list[tuple[str, object]]:
    """Every `/api/v1/` URL pattern as an OpenAPI path (`<int:pk>` → `{id}`) with its view callback."""
    found: list[tuple[str, object]] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and route.startswith(PREFIX):
                # drf-spectacular names a `pk` parameter `id` (the model's primary key).
                path = re.sub(r"<(?:\w+:)?pk>", "{id}", route)
                path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
                found.append(("/" + path, p.callback))

    walk(get_resolver().url_patterns, "")
    return found


def view_methods(callback) -> set[str]:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    assert cls is not None, f"{callback} is not a class-based view"
    return {m for m in HTTP_METHODS if hasattr(cls, m)}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi_3(schema) -> None:
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_every_api_url_pattern_is_in_the_schema_with_every_method(schema) -> None:
    patterns = api_patterns()
    assert len(patterns) > 40
    missing: list[str] = []
    for path, callback in patterns:
        if path in NOT_IN_SCHEMA:
            continue
        documented = schema["paths"].get(path)
        if documented is None:
            missing.append(path)
            continue
        for method in view_methods(callback):
            if method not in documented:
                missing.append(f"{method.upper()} {path}")
    assert missing == [], "not in the schema: " + ", ".join(missing)
    # ... and nothing in the schema that the resolver does not know.
    known = {path for path, _ in patterns}
    assert set(schema["paths"]) - known == set()


@pytest.mark.parametrize(("method", "path"), SEED_8_2, ids=[f"{m} {p}" for m, p in SEED_8_2])
def test_every_seed_8_2_endpoint_is_documented(schema, method: str, path: str) -> None:
    operation = schema["paths"].get(path, {}).get(method)
    assert operation is not None, f"{method.upper()} {path} is not in the schema"
    ok = [code for code in operation["responses"] if str(code).startswith("2")]
    assert ok, f"{method.upper()} {path} documents no success response"


def _bare(media: dict) -> bool:
    """A body documented as nothing but `{"type": "object"}` (or no schema at all)."""
    body = media.get("schema")
    return not body or body == {"type": "object"} or body == {}


def test_every_operation_documents_its_bodies(schema) -> None:
    """Success responses and request bodies name their fields (a $ref, an array, or properties)."""
    bare: list[str] = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            for code, response in operation["responses"].items():
                if not str(code).startswith("2") or code == 204:
                    continue
                for media in response.get("content", {}).values():
                    if _bare(media):
                        bare.append(f"{method.upper()} {path} → {code}")
                if not response.get("content") and str(code) != "204":
                    bare.append(f"{method.upper()} {path} → {code} (no body)")
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if _bare(media):
                    bare.append(f"{method.upper()} {path} request body")
    assert bare == [], "undocumented bodies: " + ", ".join(bare)


def test_schema_and_docs_are_served_to_logged_in_users(client, viewer) -> None:
    assert client.get("/api/v1/schema/").status_code in (401, 403)
    client.force_login(viewer)
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "StockAgent API"
    for url in ("/api/v1/docs/", "/api/v1/redoc/"):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert "/static/drf_spectacular_sidecar/" in html  # local assets: no CDN needed
        assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
        assets = re.findall(r'"(/static/drf_spectacular_sidecar/[^"]+\.js)"', html)
        assert assets, html[:500]
        for asset in assets:  # served by WhiteNoise from the package (no collectstatic needed)
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert b"".join(served.streaming_content if served.streaming else [served.content])


def test_the_schema_is_built_once_per_language(client, viewer, monkeypatch) -> None:
    from drf_spectacular.generators import SchemaGenerator as Generator

    from apps.core.openapi import CachedSchemaView

    CachedSchemaView._cache.clear()
    built: list[int] = []
    real = Generator.get_schema
    monkeypatch.setattr(
        Generator, "get_schema", lambda self, **kw: built.append(1) or real(self, **kw)
    )
    client.force_login(viewer)
    first = client.get("/api/v1/schema/?format=json").json()
    assert client.get("/api/v1/schema/?format=json").json() == first
    assert client.get("/api/v1/schema/").status_code == 200  # YAML: the same data, rendered
    assert len(built) == 1
