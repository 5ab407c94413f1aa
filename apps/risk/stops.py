"""The stop price kept on each open position (`Position.stop_price`, 손절가): what the exit evaluator
would sell at, shown by the positions page, the overview cards and the API.

The figure itself is `apps.risk.exits.effective_stop` (pure): the highest tick-grid price at which
`evaluate` sells by the stop-loss or the trailing stop, from the average price, the high since entry and
the exit policy in force. It is written:

- by the books, in the fill's transaction, when a position opens or its average price changes
  (`position_stop`; a fresh position's high is its average price, an older one's the high stored in
  Redis by the `risk.exits` handler);
- by the `risk.exits` handler once per hub cycle for the positions whose stop moved (the trailing high
  rose, the policy changed, a fill's average price): `stop_changes` then `stops_write` on the handler's
  database thread, never per tick and never on the order path;
- after a new risk configuration version, for the open positions of the active account
  (`stops_recompute`).

A write that changes a stop pushes `position_update` (`{code, qty, pnl, stop}`) after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import redis
from django.db import transaction

import krx
from apps.core.live import publish_after_commit
from apps.core.rediskeys import redis_key
from apps.core.redispool import pooled_redis

from .exits import effective_stop
from .policy import ExitPolicy, exit_policy

log = logging.getLogger(__name__)

__all__ = [
    "StopChange",
    "StopRow",
    "high_key",
    "parse_high",
    "position_stop",
    "stop_changes",
    "stops_recompute",
    "stops_write",
]


class StopRow(Protocol):
    """What a stop is computed from: the handler's `Held` rows, or `Position`s."""

    code: str
    avg_price: Decimal
    entry_time: dt.datetime | None
    market: str
    stop_price: int | None


class BookRow(StopRow, Protocol):
    account_no: str
    quantity: int


@dataclass(frozen=True, slots=True)
class StopChange:
    """A stop to write, valid only while the position still has this average price and entry."""

    avg_price: Decimal
    entry_time: dt.datetime | None
    stop: int | None


# --- the highs since entry (written by the risk.exits handler) -------------------------------------------
def high_key(account: str) -> str:
    return redis_key("stockagent", "risk", "high", account or "-")


def entry_text(entry: dt.datetime | None) -> str:
    return entry.isoformat() if entry else ""


def parse_high(raw: bytes | str | None, entry: dt.datetime | None) -> int | None:
    """A stored "high|entry time": the high when it belongs to the position entered at `entry`."""
    if not raw:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    high, _, stored_entry = text.partition("|")
    if not high.isdigit() or not _same_entry(stored_entry, entry):
        return None
    return int(high)


def _same_entry(stored: str, entry: dt.datetime | None) -> bool:
    if entry is None or not stored:
        return entry is None and not stored
    try:
        return dt.datetime.fromisoformat(stored) == entry  # the instant, whatever its zone
    except ValueError:
        return False


def stored_highs(account: str, entries: Mapping[str, dt.datetime | None]) -> dict[str, int | None]:
    """The stored highs of `entries` (code → entry time); None for a code without one (or on a Redis
    failure: the handler's next cycle writes the stop from its own highs)."""
    codes = list(entries)
    if not codes:
        return {}
    try:
        raw = _client().hmget(high_key(account), codes)
    except Exception:
        log.exception("risk: reading the highs since entry for the stops failed")
        return dict.fromkeys(codes)
    return {code: parse_high(r, entries[code]) for code, r in zip(codes, raw, strict=True)}


def _client() -> redis.Redis:
    """The process's pooled client (a fill must not pay a connection's set-up: ~10 ms)."""
    return pooled_redis(2.0)


# --- the books: in the fill's transaction ----------------------------------------------------------------
def position_stop(position: BookRow, day: dt.date, *, opened: bool) -> int | None:
    """The stop of a position the books just changed: a position `opened` by this fill has no high yet
    (the trailing stop starts at its average price), an older one's is in Redis."""
    if not position.quantity or not position.avg_price:
        return None
    high = None
    if not opened:
        code = position.code
        high = stored_highs(position.account_no, {code: position.entry_time})[code]
    return effective_stop(Decimal(position.avg_price), high, exit_policy(), position.market, day)


# --- the handler and the configuration -------------------------------------------------------------------
def stop_changes(
    held: Iterable[StopRow], highs: Mapping[str, int], policy: ExitPolicy, day: dt.date
) -> dict[str, StopChange]:
    """The stops that differ from the stored ones (`highs`: code → high since entry, when known)."""
    changes: dict[str, StopChange] = {}
    for row in held:
        avg = Decimal(row.avg_price)
        stop = effective_stop(avg, highs.get(row.code), policy, row.market, day)
        if stop != row.stop_price:
            changes[row.code] = StopChange(avg, row.entry_time, stop)
    return changes


def stops_write(account: str, changes: Mapping[str, StopChange]) -> list[str]:
    """Write the changed stops (each only while the position still has the average price and entry it
    was computed from: a fill in between wrote its own) and push `position_update` after commit.
    Returns the codes written. Database thread."""
    from apps.trades.models import Position
    from apps.trades.services.books import position_payload

    if not changes:
        return []
    written: list[str] = []
    with transaction.atomic():
        for code, change in changes.items():
            count = (
                Position.objects.filter(
                    account_no=account,
                    code=code,
                    quantity__gt=0,
                    avg_price=change.avg_price,
                    entry_time=change.entry_time,
                )
                .exclude(stop_price=change.stop)  # NULL-aware: a NULL row differs from a price
                .update(stop_price=change.stop)
            )
            if count:
                written.append(code)
        for position in Position.objects.filter(account_no=account, code__in=written):
            publish_after_commit("position_update", position_payload(position), key=position.code)
    return written


def stops_recompute(policy: ExitPolicy | None = None, day: dt.date | None = None) -> list[str]:
    """Recompute the stops of the active account's open positions (after a new risk configuration
    version; `policy` defaults to the one in force). Returns the codes written."""
    from apps.accounts.selectors import active_account_no
    from apps.trades.models import Position

    from .clock import exchange_time

    account = active_account_no()
    policy = policy or exit_policy()
    day = day or exchange_time().astimezone(krx.KST).date()
    rows = list(
        Position.objects.filter(account_no=account, quantity__gt=0).only(
            "code", "avg_price", "entry_time", "market", "stop_price"
        )
    )
    highs = stored_highs(account, {p.code: p.entry_time for p in rows})
    known = {code: high for code, high in highs.items() if high is not None}
    return stops_write(account, stop_changes(rows, known, policy, day))
