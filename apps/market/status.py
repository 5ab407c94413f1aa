"""The market's state as the trader sees it: the exchange's clock and the market phase.

One answer for every page's status strip and `GET /api/v1/market/status`: the exchange time (the simulator's
clock when trading on it, so an accelerated night demo shows its own session), the phase in five words a
trader uses (pre-open, session, closing auction, closed, holiday) and when that phase ends, so the page can
tick the clock itself and ask again only at a phase change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from apps.broker.backends import exchange_clock
from krx import KST, SessionPhase, calendar

PRE_OPEN, SESSION, CLOSING_AUCTION, CLOSED, HOLIDAY = (
    "pre_open",
    "session",
    "closing_auction",
    "closed",
    "holiday",
)
LABELS = {
    PRE_OPEN: _("장 시작 전"),
    SESSION: _("정규장"),
    CLOSING_AUCTION: _("마감 동시호가"),
    CLOSED: _("장 마감"),
    HOLIDAY: _("휴장일"),
}
_BY_PHASE = {
    SessionPhase.PRE_MARKET_OFF_HOURS: PRE_OPEN,
    SessionPhase.OPENING_AUCTION: PRE_OPEN,
    SessionPhase.CONTINUOUS: SESSION,
    SessionPhase.CLOSING_AUCTION: CLOSING_AUCTION,
}
_LOOKAHEAD = dt.timedelta(days=7)  # a holiday run (Chuseok) plus a weekend
_STEP = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class MarketStatus:
    now: dt.datetime  # exchange time, aware
    speed: float  # exchange seconds per wall second
    phase: str  # one of PRE_OPEN, SESSION, CLOSING_AUCTION, CLOSED, HOLIDAY
    next_change: dt.datetime | None  # when `phase` ends (exchange time), None beyond the lookahead

    @property
    def label(self) -> str:
        return str(LABELS[self.phase])

    @property
    def is_open(self) -> bool:
        return self.phase in (SESSION, CLOSING_AUCTION)

    def as_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "now_kst": self.now.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
            "speed": self.speed,
            "phase": self.phase,
            "label": self.label,
            "is_open": self.is_open,
            "next_change": self.next_change.isoformat() if self.next_change else None,
        }


def phase_of(moment: dt.datetime) -> str:
    """The trader's phase at an aware moment (KRX calendar: weekends and holidays are `holiday`)."""
    if not calendar.is_trading_day(moment.astimezone(KST).date()):
        return HOLIDAY
    return _BY_PHASE.get(calendar.phase_at(moment), CLOSED)


def _next_change(moment: dt.datetime, phase: str) -> dt.datetime | None:
    # Phase boundaries fall on whole minutes (KST); walk minute by minute, coarse first: an hour at a time
    # finds the hour of the change, then minutes inside it.
    start = moment.replace(second=0, microsecond=0) + _STEP
    hour = dt.timedelta(hours=1)
    t = start
    while t - start < _LOOKAHEAD:
        if phase_of(t + hour) != phase or phase_of(t) != phase:
            break
        t += hour
    else:
        return None
    while phase_of(t) == phase:
        t += _STEP
    return t


def market_status(now: dt.datetime | None = None, speed: float | None = None) -> MarketStatus:
    """The market's state now (by the exchange's clock unless `now` is given)."""
    if now is None:
        now, clock_speed = exchange_clock().reading()
        speed = clock_speed if speed is None else speed
    phase = phase_of(now)
    return MarketStatus(
        now=now, speed=speed or 1.0, phase=phase, next_change=_next_change(now, phase)
    )
