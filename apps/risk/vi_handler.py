"""The realtime hub's `risk.vi` handler: keeps which instruments are in a VI (state: `apps.risk.vi`).

- wants the VI events (Kiwoom `1h`) of the codes the risk and strategy side care about: the active
  account's open positions, the codes of its open orders, the scanner's latest candidates (when
  `apps.strategy.scanner.latest_candidates` exists), re-read every cycle, plus (`vi_of_ticks`) every
  code some handler wants ticks of — the codes being traded or watched;
- a start records `{kind, price, since}` in its dict (read by the pre-trade check in this process) and
  in the Redis hash (read by the other processes); a release removes it; a start whose release never
  came is dropped `RISK_VI_MAX_SECONDS` of exchange time after it began (checked every cycle; the
  readers apply the same limit meanwhile);
- after a reconnect the frames of the gap are lost and the Kiwoom client offers no VI list (ka10054 is
  not implemented): the state is kept, and a release lost in the gap is covered by the expiry. A VI
  that started during the gap (or before its code was subscribed) is not known until its next start;
- at start the Redis hash is read back, so a restart of the realtime process keeps the state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from apps.broker.contract import ViEvent
from apps.realtime.handlers import Handler, HubContext, Wants, db_call

from . import vi
from .vi import ViState

log = logging.getLogger(__name__)


def _candidate_codes() -> set[str]:
    try:
        from apps.strategy.scanner import latest_candidates  # type: ignore[import-not-found]
    except ImportError:
        return set()
    try:
        found: Iterable[Any] = latest_candidates() or ()
    except Exception:
        log.exception("risk.vi: the scanner's candidates are unreadable")
        return set()
    codes = {c if isinstance(c, str) else getattr(c, "code", None) for c in found}
    return {c for c in codes if isinstance(c, str) and c}


def codes_of_interest() -> frozenset[str]:
    """Held positions, open orders and the scanner's candidates of the active account (database)."""
    from apps.trades.models import OPEN_STATUSES, Order, OrderStatus, Position
    from apps.trades.services.executor import default_account

    account = default_account()
    held = Position.objects.filter(account_no=account, quantity__gt=0).values_list(
        "code", flat=True
    )
    ordered = Order.objects.filter(
        account_no=account, status__in=[*OPEN_STATUSES, OrderStatus.NEW]
    ).values_list("code", flat=True)
    return frozenset({*held, *ordered, *_candidate_codes()})


class RiskViHandler(Handler):
    name = "risk.vi"
    events = (ViEvent,)
    queue_size = 10_000

    def __init__(
        self, ctx: HubContext, *, exchange_now: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.ctx = ctx
        self._exchange_now = exchange_now  # tests: the exchange's time (else `apps.risk.clock`)
        self.states: dict[str, ViState] = {}
        self.codes: frozenset[str] = frozenset()
        self.started = 0
        self.released = 0
        self.expired = 0
        self.errors = 0
        self._unsaved = False  # a Redis write failed: the whole hash is written again next cycle
        # Events and the cycle's sweep both change the dict and Redis: one at a time, so a sweep
        # never deletes a start that arrived while it waited on Redis.
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ hub hooks
    async def wants(self) -> Wants:
        return Wants(vi=self.codes, vi_of_ticks=True)

    async def on_start(self, ctx: HubContext) -> None:
        self.ctx = ctx
        try:
            stored = await asyncio.to_thread(vi.vi_read)
        except Exception:
            self.errors += 1
            log.exception("risk.vi: the stored VI state is unreadable; starting empty")
            stored = {}
        self.states.update({c: s for c, s in stored.items() if c not in self.states})
        vi.vi_use_local(self.states)
        await self.refresh_codes()
        await self.sweep()

    async def on_cycle(self) -> None:
        await self.refresh_codes()
        await self.sweep()
        if self._unsaved:
            async with self._lock:
                await self._save_all()

    async def on_gap(self, reason: str) -> None:
        # No VI list to re-read (ka10054 is not in the client): keep what we know; expiry covers a
        # release lost in the gap.
        log.info("risk.vi: %s gap; %d VI(s) kept", reason, len(self.states))

    async def on_stop(self) -> None:
        vi.vi_use_local(None)

    def health(self) -> dict[str, Any]:
        return {
            "in_vi": len(self.states),
            "watched": len(self.codes),
            "vi_started": self.started,
            "vi_released": self.released,
            "vi_expired": self.expired,
            "vi_errors": self.errors,
        }

    # ------------------------------------------------------------------ events
    async def on_event(self, event: ViEvent) -> None:
        code = event.code
        if not code:
            log.warning("risk.vi: a VI event without a code dropped: %r", event)
            return
        active = event.active
        at = (event.at or await self._now()) if active else None
        async with self._lock:
            if active and at is not None:
                state = ViState(code, event.kind.value, event.trigger_price, at)
                self.states[code] = state
                self.started += 1
                log.info("risk.vi: VI on %s (%s at %s)", code, state.kind, state.price)
                await self._redis(vi.vi_write, state)
            else:
                self.states.pop(code, None)
                self.released += 1
                log.info("risk.vi: VI of %s released", code)
                await self._redis(vi.vi_delete, code)

    # ------------------------------------------------------------------ work
    async def refresh_codes(self) -> None:
        try:
            self.codes = await db_call(codes_of_interest)
        except Exception:
            self.errors += 1
            log.exception("risk.vi: reading the codes of interest failed; keeping the last ones")

    async def sweep(self, now: dt.datetime | None = None) -> list[str]:
        """Drop the starts older than `RISK_VI_MAX_SECONDS` of exchange time (their release was lost)."""
        now = now or await self._now()
        limit = vi.vi_max_seconds()
        async with self._lock:
            gone = [c for c, s in list(self.states.items()) if s.over(now, limit)]
            for code in gone:
                self.states.pop(code, None)
                self.expired += 1
                log.warning(
                    "risk.vi: no release of the VI of %s within %.0f s; considered over",
                    code,
                    limit,
                )
            if gone:
                await self._redis(vi.vi_delete, *gone)
        return gone

    async def _now(self) -> dt.datetime:
        if self._exchange_now is not None:
            return self._exchange_now()
        from .clock import exchange_time

        # The simulator's clock may take an HTTP read: never on the event loop.
        return await asyncio.to_thread(exchange_time)

    async def _redis(self, fn: Any, *args: Any) -> None:
        try:
            await asyncio.to_thread(fn, *args)
        except Exception as exc:
            self.errors += 1
            self._unsaved = True
            log.warning("risk.vi: writing the VI state failed (%s); retried next cycle", exc)

    async def _save_all(self) -> None:
        states = list(self.states.values())

        def write() -> None:
            pipe = vi.redis_client().pipeline()
            pipe.delete(vi.vi_key())
            for state in states:
                pipe.hset(vi.vi_key(), state.code, state.to_json())
            pipe.expire(vi.vi_key(), vi.KEY_TTL_SECONDS)
            pipe.execute()

        self._unsaved = False
        await self._redis(write)
