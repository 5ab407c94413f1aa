"""drf-spectacular's settings: the OpenAPI 3 schema of /api/v1/ (imported by `stockagent.settings`).

`GET /api/v1/schema/` (YAML, `?format=json`), Swagger UI at `/api/v1/docs/` and Redoc at `/api/v1/redoc/`,
their assets from the sidecar package (no CDN); any logged-in user may read them.
`manage.py spectacular --validate --fail-on-warn` checks the schema (README, "REST API").
"""

SPECTACULAR_SETTINGS = {
    "TITLE": "StockAgent API",
    "DESCRIPTION": "REST API of StockAgent (/api/v1/). Session (browser) or token auth "
    "(`Authorization: Token <key>`, `manage.py api_token`). Reads: any logged-in user; "
    "writes: the trader role. Errors are JSON with a `detail`.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The contract is JSON (DRF also parses forms, which the schema does not promise).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.openapi.postprocess_plain_times",
    ],
    # Choice sets that share a field name ("status", "mode", ...) get a name each.
    "ENUM_NAME_OVERRIDES": {
        "AccountModeEnum": "apps.accounts.models.Mode",
        "SplitModeEnum": "apps.trades.models.SplitMode",
        "ConditionSourceEnum": "apps.conditions.models.Source",
        "OrderKindEnum": "apps.trades.models.OrderKind",
        "OrderStatusEnum": "apps.trades.models.OrderStatus",
        "SplitStatusEnum": "apps.trades.models.SplitStatus",
        "RiskStateEnum": "apps.risk.models.State",
    },
    "DISABLE_ERRORS_AND_WARNINGS": False,
}
