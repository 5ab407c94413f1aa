"""The two roles, as groups with permissions: viewer (read only) and trader (may also change things).

Used by the data migration (with historical models) and by tests after a database flush.
"""

from __future__ import annotations

VIEWER_GROUP = "viewer"
TRADER_GROUP = "trader"
TRADE_CODENAME = "trade"

# (app_label, model) whose view permission both roles get. Later apps append theirs in their migrations.
VIEW_MODELS = [
    ("core", "systemstatus"),
    ("core", "runtimeflag"),
    ("core", "runtimeflagevent"),
]


def ensure_roles(group_model, permission_model) -> None:
    """Create (or complete) both groups. Idempotent."""
    view_perms = [
        p
        for p in permission_model.objects.filter(codename__startswith="view_").select_related(
            "content_type"
        )
        if (p.content_type.app_label, p.content_type.model) in VIEW_MODELS
    ]
    trade = permission_model.objects.get(content_type__app_label="core", codename=TRADE_CODENAME)
    viewer, _ = group_model.objects.get_or_create(name=VIEWER_GROUP)
    viewer.permissions.add(*view_perms)
    trader, _ = group_model.objects.get_or_create(name=TRADER_GROUP)
    trader.permissions.add(*view_perms, trade)
