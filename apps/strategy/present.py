"""Plain dictionaries of strategy configurations (the API's bodies, the live push, the page)."""

from __future__ import annotations

from typing import Any

from .engine.runner import REGISTRY
from .models import StrategyConfig
from .selectors import Change

__all__ = ["change_dicts", "config_dict"]


def config_dict(row: StrategyConfig) -> dict[str, Any]:
    cls = REGISTRY[row.strategy]
    return {
        "strategy": row.strategy,
        "label": cls.label,
        "label_en": cls.label_en,
        "version": row.version,
        "enabled": row.enabled,
        "budget_krw": row.budget_krw,
        "params": row.params,
        "schema": cls.schema.describe(),
        "author": row.author.get_username() if row.author else None,
        "reason": row.reason,
        "created_at": row.created_at,
    }


def change_dicts(changes: list[Change]) -> list[dict[str, Any]]:
    return [{"field": c.field, "before": c.before, "after": c.after} for c in changes]
