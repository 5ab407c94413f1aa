"""The two roles, as groups with permissions: viewer (read only) and trader (may also change things).

Both get the view permission of every model in the project's own apps (``apps.*``), so a new app's models
become readable by both roles on its first migrate; the trader also gets ``core.trade``. Kept in sync by the
core data migration and a post_migrate hook, and re-created by tests after a database flush.
"""

from __future__ import annotations

VIEWER_GROUP = "viewer"
TRADER_GROUP = "trader"
TRADE_CODENAME = "trade"


def project_app_labels() -> list[str]:
    from django.apps import apps

    return [c.label for c in apps.get_app_configs() if c.name.startswith("apps.")]


def ensure_roles(group_model, permission_model, app_labels: list[str] | None = None) -> None:
    """Create (or complete) both groups. Idempotent."""
    labels = app_labels if app_labels is not None else project_app_labels()
    view_perms = list(
        permission_model.objects.filter(
            codename__startswith="view_", content_type__app_label__in=labels
        )
    )
    trade = permission_model.objects.get(content_type__app_label="core", codename=TRADE_CODENAME)
    viewer, _ = group_model.objects.get_or_create(name=VIEWER_GROUP)
    viewer.permissions.add(*view_perms)
    trader, _ = group_model.objects.get_or_create(name=TRADER_GROUP)
    trader.permissions.add(*view_perms, trade)
