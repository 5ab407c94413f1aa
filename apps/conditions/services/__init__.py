"""Writes of the conditions app: list sync, snapshot diffs, realtime entries/exits, the 30-second cycle.

Both paths end in the same membership transition under a row lock on the condition (`apply`):

- `snapshot_apply()` — a full member list (the poll, "search now", a realtime subscription's initial
  list) diffed against the current membership;
- `realtime_apply()` — individual 02 I/D changes.

Modules: `sync` (the HTS list and the trader's switches), `apply` (membership transitions, events,
alerts), `alerts` (debounced alerts: the hold time), `check` (a search now, the 30-second cycle, pruning), `payloads` (the live push shapes).
Callers import from `apps.conditions.services`; the names below are its public surface.

Broker calls never happen inside a transaction: searches run first, then the result is applied.
"""

from apps.conditions.services.alerts import alerts_release
from apps.conditions.services.apply import (
    ApplyResult,
    Observation,
    RealtimeChange,
    observation_from_hit,
    realtime_apply,
    run_failed,
    snapshot_apply,
)
from apps.conditions.services.check import (
    CycleResult,
    check_cycle,
    condition_check,
    market_is_open,
    runs_prune,
)
from apps.conditions.services.payloads import LIVE_EVENT, condition_payload, event_payload
from apps.conditions.services.sync import (
    MAX_ALERT_HOLD_SECONDS,
    SETTINGS,
    TOGGLES,
    ConditionError,
    SyncResult,
    condition_update,
    conditions_sync,
    conditions_sync_from_broker,
    default_account,
)

__all__ = [
    "LIVE_EVENT",
    "MAX_ALERT_HOLD_SECONDS",
    "SETTINGS",
    "TOGGLES",
    "ApplyResult",
    "ConditionError",
    "CycleResult",
    "Observation",
    "RealtimeChange",
    "SyncResult",
    "alerts_release",
    "check_cycle",
    "condition_check",
    "condition_payload",
    "condition_update",
    "conditions_sync",
    "conditions_sync_from_broker",
    "default_account",
    "event_payload",
    "market_is_open",
    "observation_from_hit",
    "realtime_apply",
    "run_failed",
    "runs_prune",
    "snapshot_apply",
]
