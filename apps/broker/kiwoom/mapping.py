"""Kiwoom's codes and status text ↔ the contract's enums: the one place they are translated.

Korean order-status text (주문상태, FID 913 / `ord_stt`: 접수, 체결, 확인, 취소, 거부) is read here
and nowhere else (a test greps the tree for it); so are the order-type codes (`trde_tp`), the sign
codes behind `Direction` and the ranking TR ids.
"""

from __future__ import annotations

from apps.broker.contract.types import (
    Direction,
    InstrumentWarning,
    OrderStatus,
    OrderType,
    RankingKind,
)
from krx.markets import Market

__all__ = [
    "KIWOOM_STATUS_TEXT",
    "RANKING_API_IDS",
    "TRDE_TP",
    "direction",
    "order_kind",
    "order_status",
    "status_text",
]

# Kiwoom 주문상태 words.
_ACCEPTED = "접수"
_FILLED = "체결"
_CONFIRMED = "확인"  # an amend or cancel was confirmed; FID 905/io_tp_nm says which
_CANCELLED = "취소"
_REJECTED = "거부"
_CANCEL_KIND = "취소"

TRDE_TP: dict[OrderType, str] = {
    OrderType.LIMIT: "0",
    OrderType.MARKET: "3",
    OrderType.CONDITIONAL_LIMIT: "5",
    OrderType.BEST_LIMIT: "6",
    OrderType.PRIORITY_LIMIT: "7",
    OrderType.LIMIT_IOC: "10",
    OrderType.MARKET_IOC: "13",
    OrderType.LIMIT_FOK: "20",
    OrderType.MARKET_FOK: "23",
}

RANKING_API_IDS: dict[RankingKind, str] = {
    RankingKind.TRADING_VALUE: "ka10032",
    RankingKind.VOLUME_SURGE: "ka10023",
    RankingKind.CHANGE_RATE: "ka10027",
    RankingKind.VOLUME: "ka10030",
}

# 전일대비기호 (sign code) → direction.
_SIGN_CODES = {
    "1": Direction.UPPER_LIMIT,
    "2": Direction.UP,
    "3": Direction.FLAT,
    "4": Direction.LOWER_LIMIT,
    "5": Direction.DOWN,
}


def direction(raw: str, fallback_signed: str = "") -> Direction:
    """A sign code; without one, the sign of a direction-signed price or change."""
    d = _SIGN_CODES.get(raw.strip())
    if d is not None:
        return d
    s = fallback_signed.strip()
    if s.startswith("+"):
        return Direction.UP
    if s.startswith("-"):
        return Direction.DOWN
    return Direction.FLAT


def order_status(text: str, *, remaining: int, filled: int, kind: str = "") -> OrderStatus:
    """Kiwoom 주문상태 + quantities → OrderStatus.

    `kind` is the order kind (FID 905 / `io_tp_nm`: 매수, 매도정정, 매수취소 …); `filled` the
    quantity filled so far (0 if unknown). 체결 with nothing left is FILLED, with a rest PARTIALLY_FILLED;
    접수/확인 of a live order are ACCEPTED (PARTIALLY_FILLED once something filled); a confirmed
    cancel is CANCELLED.
    """
    t = text.strip()
    if t == _REJECTED:
        return OrderStatus.REJECTED
    if t == _CANCELLED or (t == _CONFIRMED and _CANCEL_KIND in kind):
        return OrderStatus.CANCELLED
    if t == _FILLED:
        return OrderStatus.FILLED if remaining <= 0 else OrderStatus.PARTIALLY_FILLED
    if t in (_ACCEPTED, _CONFIRMED):
        if filled > 0:
            return OrderStatus.FILLED if remaining <= 0 else OrderStatus.PARTIALLY_FILLED
        return OrderStatus.ACCEPTED
    return OrderStatus.UNKNOWN


KIWOOM_STATUS_TEXT: dict[OrderStatus, str] = {
    OrderStatus.ACCEPTED: _ACCEPTED,
    OrderStatus.PARTIALLY_FILLED: _FILLED,
    OrderStatus.FILLED: _FILLED,
    OrderStatus.CANCELLED: _CANCELLED,
    OrderStatus.REPLACED: _CONFIRMED,
    OrderStatus.REJECTED: _REJECTED,
    OrderStatus.UNKNOWN: "",
}


def order_kind(buy: bool, status: OrderStatus, *, amend: bool = False) -> str:
    """FID 905 for a built event: `+매수`, `-매도정정`, `-매도취소` …"""
    base = "+매수" if buy else "-매도"
    if status is OrderStatus.CANCELLED:
        return base + _CANCEL_KIND
    return base + "정정" if amend else base


def status_text(status: OrderStatus, *, amend: bool = False) -> str:
    """The inverse, for building Kiwoom-shaped events in tests and the in-memory backend."""
    if amend and status is OrderStatus.ACCEPTED:
        return _CONFIRMED
    return KIWOOM_STATUS_TEXT[status]


# ---------------------------------------------------------------- the stock list (ka10099)
# `mrkt_tp` of ka10099 by market (PROTOCOL.md §4: 0 코스피, 10 코스닥, 50 코넥스).
MARKET_CODES: dict[Market, str] = {Market.KOSPI: "0", Market.KOSDAQ: "10", Market.KONEX: "50"}
_MARKETS_BY_CODE = {v: k for k, v in MARKET_CODES.items()}
# `orderWarning` (PROTOCOL.md §4): 0 해당없음, 1 ETF투자주의요망, 2 정리매매, 3 단기과열, 4 투자위험, 5 투자경고.
_WARNINGS = {
    "1": InstrumentWarning.ETF_CAUTION,
    "2": InstrumentWarning.LIQUIDATION,
    "3": InstrumentWarning.OVERHEATED,
    "4": InstrumentWarning.RISK,
    "5": InstrumentWarning.WARNING,
}


def market(raw: str) -> Market | None:
    return _MARKETS_BY_CODE.get(raw.strip())


def instrument_warning(raw: str) -> InstrumentWarning:
    """An unknown code reads as a warning rather than none: a filter that excludes warned stocks
    should err on the side of excluding (the code table is from the documentation, not observed)."""
    code = raw.strip()
    if code in ("", "0"):
        return InstrumentWarning.NONE
    return _WARNINGS.get(code, InstrumentWarning.WARNING)


def state_is_halted(flags: tuple[str, ...]) -> bool:
    return any("거래정지" in f for f in flags)


def state_is_administrative(flags: tuple[str, ...]) -> bool:
    return any("관리종목" in f for f in flags)
