"""New strategy configuration versions: parameter changes and the on/off toggle.

`config_update` validates a change with the strategy's parameter schema (`engine.params`; the one
validation the engine itself applies) and, in one transaction, writes the next version of that strategy
(author, reason; the active version's row locked so two writers queue), records a notification and, after
commit, drops the process's cached settings and pushes `strategy_config` on /ws/live. Fields left out keep
the active version's values. A bad change raises `ConfigInvalid` with the errors per field (a parameter
by its own name; `strategy`, `enabled`, `budget_krw`, `reason`) and writes nothing. A change that
changes nothing writes nothing either (`changed` False).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.core.live import publish_after_commit

from .engine.params import ParamsInvalid
from .engine.runner import REGISTRY
from .models import StrategyConfig
from .selectors import config_changes, forget_cache

__all__ = ["BUDGET_MAX_KRW", "ConfigInvalid", "config_toggle", "config_update"]

BUDGET_MAX_KRW = 10**13
REASON_MAX = 200
FIELDS = ("params", "enabled", "budget_krw")


class ConfigInvalid(ValueError):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid strategy configuration")
        self.errors = errors


def _budget(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("정수여야 합니다 (must be an integer)")
    if isinstance(raw, str):
        raw = raw.strip().replace(",", "")
        if not raw.lstrip("-").isdigit():
            raise ValueError("정수여야 합니다 (must be an integer)")
        raw = int(raw)
    if not isinstance(raw, int):
        raise ValueError("정수여야 합니다 (must be an integer)")
    if not 1 <= raw <= BUDGET_MAX_KRW:
        raise ValueError(
            f"1 ~ {BUDGET_MAX_KRW:,}원이어야 합니다 (must be 1 … {BUDGET_MAX_KRW} KRW)"
        )
    return raw


def _validate(
    name: Any, data: Mapping[str, Any], reason: Any, *, reason_required: bool
) -> tuple[type, dict[str, Any]]:
    errors: dict[str, list[str]] = {}
    cls = REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigInvalid({"strategy": [f"알 수 없는 전략입니다 (unknown strategy: {name!r})"]})
    if not isinstance(data, Mapping):
        raise ConfigInvalid({"detail": ["객체여야 합니다 (must be an object)"]})
    for key in data:
        if key not in FIELDS:
            errors[str(key)] = ["알 수 없는 항목입니다 (unknown field)"]
    if not isinstance(reason, str) or (reason_required and not reason.strip()):
        errors["reason"] = ["변경 사유가 필요합니다 (a reason is required)"]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"{REASON_MAX}자 이하 (at most {REASON_MAX} characters)"]
    return cls, errors


def _next_values(
    cls: type, current: StrategyConfig | None, data: Mapping[str, Any], errors: dict[str, list[str]]
) -> dict[str, Any]:
    schema = cls.schema  # type: ignore[attr-defined]
    try:
        base = schema.load(current.params) if current is not None else schema.defaults()
    except ParamsInvalid:  # a stored set the code no longer accepts: start from the defaults
        base = schema.defaults()
    values: dict[str, Any] = {
        "enabled": current.enabled if current is not None else False,
        "budget_krw": current.budget_krw if current is not None else 1_000_000,
        "params": schema.to_json(base),
    }
    if "enabled" in data:
        if isinstance(data["enabled"], bool):
            values["enabled"] = data["enabled"]
        else:
            errors["enabled"] = ["true 또는 false여야 합니다 (must be true or false)"]
    if "budget_krw" in data:
        try:
            values["budget_krw"] = _budget(data["budget_krw"])
        except ValueError as exc:
            errors["budget_krw"] = [str(exc)]
    if "params" in data:
        try:
            values["params"] = schema.to_json(schema.validate(data["params"], base=base))
        except ParamsInvalid as exc:
            errors.update(exc.errors)
    return values


def config_update(
    name: str,
    data: Mapping[str, Any],
    *,
    user: AbstractBaseUser | None,
    reason: str = "",
    reason_required: bool = True,
) -> tuple[StrategyConfig, bool]:
    """Write the next version of `name` with `data` (`params` — a partial set —, `enabled`,
    `budget_krw`). Returns the active row and whether a version was written."""
    cls, errors = _validate(name, data, reason, reason_required=reason_required)
    with transaction.atomic():
        current = (
            StrategyConfig.objects.select_for_update()
            .filter(strategy=name)
            .order_by("-version")
            .first()
        )
        values = _next_values(cls, current, data, errors)
        if errors:
            raise ConfigInvalid(errors)
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            return current, False
        row = StrategyConfig.objects.create(
            strategy=name,
            version=(current.version if current is not None else 0) + 1,
            author=user,
            reason=reason.strip(),
            **values,
        )
        _announce(row, current, user)
    return row, True


def config_toggle(
    name: str, enabled: Any, *, user: AbstractBaseUser | None, reason: str = ""
) -> tuple[StrategyConfig, bool]:
    """Switch a strategy on or off (a new version; the reason is optional)."""
    if not isinstance(enabled, bool):
        _validate(name, {}, reason, reason_required=False)  # an unknown strategy first
        raise ConfigInvalid({"enabled": ["true 또는 false여야 합니다 (must be true or false)"]})
    default = "전략 켜기" if enabled else "전략 끄기"
    return config_update(
        name,
        {"enabled": enabled},
        user=user,
        reason=reason.strip() if isinstance(reason, str) and reason.strip() else default,
        reason_required=False,
    )


def _announce(
    row: StrategyConfig, before: StrategyConfig | None, user: AbstractBaseUser | None
) -> None:
    from apps.notifications.models import NotificationKind
    from apps.notifications.services import notify

    changes = [
        {"field": c.field, "before": c.before, "after": c.after}
        for c in config_changes(before, row)
    ]
    who = user.get_username() if user is not None else None
    label = getattr(REGISTRY[row.strategy], "label", row.strategy)
    summary = ", ".join(f"{c['field']}: {c['before']} → {c['after']}" for c in changes)
    notify(
        NotificationKind.SYSTEM,
        title=f"전략 설정 변경: {label} v{row.version}",
        body=f"{summary} — {row.reason} ({who or '자동'})",
        data={"strategy": row.strategy, "version": row.version, "enabled": row.enabled},
    )
    transaction.on_commit(forget_cache)
    publish_after_commit(
        "strategy_config",
        {
            "strategy": row.strategy,
            "version": row.version,
            "enabled": row.enabled,
            "budget_krw": row.budget_krw,
            "by": who,
            "reason": row.reason,
            "changes": changes,
        },
    )
