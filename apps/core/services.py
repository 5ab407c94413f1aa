"""Writes of the core app: component heartbeats and runtime switches."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.live import publish_after_commit
from apps.core.models import HealthStatus, RuntimeFlag, RuntimeFlagEvent, SystemStatus


def status_record(
    component: str,
    status: str = HealthStatus.OK,
    message: str = "",
    *,
    processed: int = 0,
    details: dict | None = None,
) -> SystemStatus:
    """Record that ``component`` is alive (or not) now. ``processed`` is added to its data count."""
    now = timezone.now()
    defaults = {"status": status, "message": message[:500], "last_seen": now}
    if details is not None:
        defaults["details"] = details
    row, _created = SystemStatus.objects.update_or_create(component=component, defaults=defaults)
    if processed:
        SystemStatus.objects.filter(pk=row.pk).update(data_count=F("data_count") + processed)
        row.refresh_from_db(fields=["data_count"])
    return row


class FlagError(ValueError):
    """A flag change that cannot be made (unknown flag)."""


def flag_set(
    key: str, enabled: bool, *, user: AbstractBaseUser | None, reason: str = ""
) -> RuntimeFlag:
    """Turn a runtime switch on or off, with an audit row, and tell the dashboard after commit."""
    with transaction.atomic():
        try:
            flag = RuntimeFlag.objects.select_for_update().get(key=key)
        except RuntimeFlag.DoesNotExist as exc:
            raise FlagError(f"unknown flag: {key}") from exc
        if flag.enabled != enabled:
            flag.enabled = enabled
            flag.updated_by = user
            flag.save(update_fields=["enabled", "updated_by", "updated_at"])
            RuntimeFlagEvent.objects.create(
                flag=flag, enabled=enabled, changed_by=user, reason=reason[:200]
            )
            publish_after_commit("flag", {"key": key, "enabled": enabled})
    return flag


TRADING_FLAG = "trading-enabled"


def switch_set(
    key: str, enabled: bool, *, user: AbstractBaseUser | None, reason: str = ""
) -> RuntimeFlag:
    """A switch change from a page or the API: the trader's automatic-trading switch goes through the
    trading gate (`apps.risk.services.gate`: journalled, notified, pushed as `risk_state`); any other
    switch is a plain `flag_set`."""
    if key == TRADING_FLAG:
        from apps.risk.services.gate import switch_set as gate_switch_set

        gate_switch_set(enabled, user=user, reason=reason)
        return RuntimeFlag.objects.get(key=key)
    return flag_set(key, enabled, user=user, reason=reason)
