"""The trader's list of conditions: syncing it with the broker's HTS list (CNSRLST) and the switches
(active, realtime, notify entry/exit)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.broker.contract import Broker
from apps.broker.contract import Condition as BrokerCondition
from apps.conditions.models import Condition
from apps.conditions.services.payloads import LIVE_EVENT, condition_payload
from apps.core.live import publish_after_commit


class ConditionError(ValueError):
    """A change to a condition that cannot be made (e.g. too many realtime conditions)."""


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    relisted: list[str] = field(default_factory=list)


def default_account() -> str:
    """The active broker account's number (accounts app), else KIWOOM_ACCOUNT: the HTS condition list
    belongs to the login of that account's keys."""
    from apps.accounts.selectors import active_account_no

    return active_account_no()


# --- list sync ------------------------------------------------------------------------------------------
def conditions_sync(listed: Iterable[BrokerCondition], account: str | None = None) -> SyncResult:
    """Make the table match CNSRLST: new conditions are created (inactive: the trader chooses what to
    watch), renamed ones renamed, missing ones marked unlisted (kept with their history, never checked)."""
    account = default_account() if account is None else account
    result = SyncResult()
    now = timezone.now()
    seen: dict[str, str] = {c.seq.strip(): c.name.strip() for c in listed}
    with transaction.atomic():
        existing = {c.seq: c for c in Condition.objects.select_for_update().filter(account=account)}
        for seq, name in seen.items():
            cond = existing.get(seq)
            if cond is None:
                Condition.objects.create(
                    account=account, seq=seq, name=name, active=False, synced_at=now
                )
                result.created.append(seq)
                continue
            fields = ["synced_at", "updated_at"]
            cond.synced_at = now
            if cond.name != name:
                cond.name = name
                fields.append("name")
                result.renamed.append(seq)
            if not cond.listed:
                cond.listed = True
                fields.append("listed")
                result.relisted.append(seq)
            cond.save(update_fields=fields)
        for seq, cond in existing.items():
            if seq not in seen and cond.listed:
                cond.listed = False
                cond.realtime = False
                cond.save(update_fields=["listed", "realtime", "updated_at"])
                result.unlisted.append(seq)
        if result.created or result.renamed or result.unlisted or result.relisted:
            publish_after_commit(LIVE_EVENT, {"reload": True})
    return result


def conditions_sync_from_broker(broker: Broker, account: str | None = None) -> SyncResult:
    return conditions_sync(broker.conditions(), account)


# --- switches -------------------------------------------------------------------------------------------
TOGGLES = ("active", "realtime", "notify_entry", "notify_exit")
SETTINGS = ("alert_hold_seconds",)  # whole seconds, 0…MAX_ALERT_HOLD_SECONDS
MAX_ALERT_HOLD_SECONDS = 3600


def condition_update(condition: Condition, **changes: bool | int) -> Condition:
    """Change the trader's switches and the alert hold. Raises `ConditionError` (nothing saved) on a bad
    change."""
    unknown = set(changes) - set(TOGGLES) - set(SETTINGS)
    if unknown:
        raise ConditionError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for key, value in changes.items():
        if key in SETTINGS:
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= MAX_ALERT_HOLD_SECONDS
            ):
                raise ConditionError(
                    f"{key} must be a whole number of seconds from 0 to {MAX_ALERT_HOLD_SECONDS}"
                )
        elif not isinstance(value, bool):
            raise ConditionError(f"{key} must be true or false")
    with transaction.atomic():
        cond = Condition.objects.select_for_update().get(pk=condition.pk)
        if changes.get("realtime") and not cond.realtime:
            if not cond.listed:
                raise ConditionError("this condition is no longer in the HTS list")
            limit = settings.CONDITIONS_MAX_REALTIME
            taken = (
                Condition.objects.filter(account=cond.account, realtime=True)
                .exclude(pk=cond.pk)
                .count()
            )
            if taken >= limit:
                raise ConditionError(
                    f"at most {limit} realtime conditions per login (Kiwoom limit)"
                )
        if changes.get("realtime"):
            # Realtime without the poll would miss what a dropped socket loses.
            changes.setdefault("active", True)
        if changes.get("active") is False:
            changes["realtime"] = False
        if "active" in changes and changes["active"] != cond.active:
            # Off: nobody tracks it any more. On again: what it holds now is a new baseline, not a
            # burst of entries and exits since it was switched off.
            cond.baseline_at = None
        for key, value in changes.items():
            setattr(cond, key, value)
        cond.save()
        publish_after_commit(LIVE_EVENT, {"condition": condition_payload(cond)})
    return cond
