"""``ConditionAlert``: one stock entering or leaving one condition search, as the conditions app reports it.

Exported from ``apps.notifications.services`` (``notify_condition_events`` takes a batch of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from apps.core.templatetags.stockagent import kst
from apps.notifications.models import NotificationKind


@dataclass(frozen=True, slots=True)
class ConditionAlert:
    """``entered`` is True for an entry (편입), False for an exit (이탈). ``price`` is integer KRW and
    ``change_rate`` a percentage (``Decimal("3.25")`` = +3.25%); either may be ``None`` when not known yet.
    ``at`` must be aware."""

    entered: bool
    condition_seq: str
    condition_name: str
    code: str
    stock_name: str
    price: int | None
    change_rate: Decimal | None
    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("ConditionAlert.at must be an aware datetime")
        if self.price is not None and (
            isinstance(self.price, bool) or not isinstance(self.price, int)
        ):
            raise TypeError("ConditionAlert.price must be integer KRW or None")
        if self.change_rate is not None and not isinstance(self.change_rate, Decimal):
            raise TypeError("ConditionAlert.change_rate must be a Decimal or None")

    @property
    def kind(self) -> str:
        return NotificationKind.CONDITION_ENTRY if self.entered else NotificationKind.CONDITION_EXIT

    @property
    def dedup_key(self) -> str:
        """Condition, direction, code and KST minute: the realtime and poll paths reporting the same
        entry make one alert."""
        direction = "entry" if self.entered else "exit"
        return (
            f"condition.{direction}:{self.condition_seq}:{self.code}:{kst(self.at, '%Y%m%d%H%M')}"
        )

    def as_data(self) -> dict[str, object]:
        """JSON-safe form (one item of a batch notification's ``data["alerts"]``)."""
        return {
            "entered": self.entered,
            "condition_seq": self.condition_seq,
            "condition_name": self.condition_name,
            "code": self.code,
            "name": self.stock_name,
            "price": self.price,
            "change_rate": None if self.change_rate is None else str(self.change_rate),
            "at": self.at.isoformat(),
        }
