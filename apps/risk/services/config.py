"""New risk configuration versions.

`config_update` validates a change with the one form (`RiskConfigForm`), and in one transaction
writes the next version (author, reason), moves the status row's active version and, after commit,
drops the process's cached configuration, pushes `risk_config` on /ws/live and recomputes the stop
prices of the active account's open positions (`apps.risk.stops.stops_recompute`: the stop-loss or the
trailing stop may have moved; each changed one pushes `position_update`). Fields left out keep
the active version's values. A bad change raises `ConfigInvalid` with the errors per field and writes
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from apps.core.live import publish_after_commit

from ..forms import CONFIG_FIELDS, RiskConfigForm, initial_of
from ..models import RiskConfig
from ..policy import ExitPolicy
from ..selectors import active_config, config_of, forget_cache
from .state import status_locked

__all__ = ["ConfigInvalid", "config_update"]

log = logging.getLogger(__name__)


class ConfigInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid risk configuration")
        self.errors = errors


def _merged(data: Mapping[str, Any], reason: str | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name, value in initial_of(active_config().row).items():
        merged[name] = "" if value is None else value
    for name, value in data.items():
        if name in CONFIG_FIELDS or name == "reason":
            merged[name] = "" if value is None else value
    if reason is not None:
        merged["reason"] = reason
    return merged


def config_validate(
    data: Mapping[str, Any], reason: str | None = None
) -> tuple[RiskConfigForm, dict[str, Any]]:
    form = RiskConfigForm(data=_merged(data, reason))
    unknown = sorted(set(data) - set(CONFIG_FIELDS) - {"reason"})
    if not form.is_valid() or unknown:
        errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
        for name in unknown:
            errors[name] = ["알 수 없는 항목입니다 (unknown field)"]
        raise ConfigInvalid(errors)
    return form, form.cleaned_data


def config_update(
    data: Mapping[str, Any], *, user: AbstractBaseUser | None, reason: str | None = None
) -> tuple[RiskConfig, list[str]]:
    """Write the next configuration version; returns it and the warnings (e.g. a stop-loss outside
    the seed's -3…-5% band)."""
    form, cleaned = config_validate(data, reason)
    with transaction.atomic():
        status = status_locked()
        latest = RiskConfig.objects.aggregate(v=Max("version"))["v"] or 0
        row = RiskConfig(
            version=latest + 1,
            author=user,
            reason=cleaned["reason"],
            **{name: cleaned[name] for name in CONFIG_FIELDS},
        )
        row.excluded_kinds = sorted(cleaned["excluded_kinds"])
        row.save(force_insert=True)
        status.config_version = row.version
        status.save(update_fields=["config_version"])
        transaction.on_commit(forget_cache)
        policy = config_of(row).exit_policy
        transaction.on_commit(lambda: _stops_after(policy))
        publish_after_commit(
            "risk_config",
            {
                "version": row.version,
                "by": user.get_username() if user else None,
                "reason": row.reason,
            },
        )
    return row, form.warnings


def _stops_after(policy: ExitPolicy) -> None:
    """After commit: a failure here never undoes the new version (the realtime handler's next cycle
    writes the stops from the policy in force anyway)."""
    from ..stops import stops_recompute

    try:
        stops_recompute(policy)
    except Exception:
        log.exception("risk: recomputing the stop prices after a configuration change failed")
