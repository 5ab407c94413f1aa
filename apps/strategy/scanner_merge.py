"""Merging the opening scanner's three rankings into one candidate list (pure: no Django, no I/O).

Inputs are the broker contract's `RankingRow`s of ka10032 (trading value), ka10023 (volume surge
against the previous day) and ka10027 (gainers). A stock is one candidate whichever rankings list it:

- its trading value is the trading-value ranking's; a stock only in the surge or gainers ranking gets
  price × today's volume from those rows (`value_estimated`; the broker reports no trading value there);
- its volume ratio (today's volume ÷ the previous day's, e.g. 2.50 = two and a half times) comes from the
  surge row's surge rate ((now − prev) ÷ prev in %), so a stock outside that ranking has none;
- price, change % and name come from the first ranking that reports them (trading value, surge, gainers);
- candidates are ranked by trading value, largest first; unknown values last; ties by the trading-value
  ranking's own order, then the surge and gainers ranks, then the code — the same input always gives
  the same ranks.

Codes that are not KRX stock codes are dropped; so are the codes the caller excludes (the risk
configuration's exclusions, decided by `apps.risk`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from apps.broker.contract import RankingKind, RankingRow
from krx.codes import clean_stock_code

__all__ = ["MergedRow", "merge_rankings", "volume_ratio_of"]

_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_SOURCE_ORDER = (RankingKind.TRADING_VALUE, RankingKind.VOLUME_SURGE, RankingKind.CHANGE_RATE)


@dataclass(frozen=True, slots=True)
class MergedRow:
    rank: int
    code: str
    name: str
    price: int | None
    change_pct: Decimal | None
    value_krw: int | None
    value_estimated: bool
    volume: int | None
    volume_ratio: Decimal | None
    value_rank: int | None
    surge_rank: int | None
    gain_rank: int | None


def volume_ratio_of(surge_rate: Decimal | None) -> Decimal | None:
    """ka10023's surge rate (%, today's volume against the previous day's) as a multiple, to 0.01."""
    if surge_rate is None:
        return None
    ratio = (_HUNDRED + surge_rate) / _HUNDRED
    return max(ratio, Decimal(0)).quantize(_CENT)


def _by_code(rows: Iterable[RankingRow]) -> dict[str, RankingRow]:
    """The first (best-ranked) row of each clean code; rows are taken in their rank order."""
    out: dict[str, RankingRow] = {}
    for row in sorted(rows, key=lambda r: r.rank):
        code = clean_stock_code(row.code or "")
        if code is not None and code not in out:
            out[code] = row
    return out


def _first(*values: object) -> object:
    return next((v for v in values if v is not None and v != ""), None)


def merge_rankings(
    rankings: Mapping[RankingKind, Sequence[RankingRow]],
    *,
    excluded: Iterable[str] = (),
    top_n: int | None = None,
) -> list[MergedRow]:
    """One candidate per stock, ranked by trading value (see the module docstring). `excluded` codes are
    left out before ranking, so the ranks have no gaps; `top_n` keeps the first N."""
    sources = {kind: _by_code(rankings.get(kind, ())) for kind in _SOURCE_ORDER}
    skip = set(excluded)
    codes: list[str] = []
    for kind in _SOURCE_ORDER:
        codes.extend(c for c in sources[kind] if c not in skip and c not in codes)
    merged: list[MergedRow] = []
    for code in codes:
        rows = [sources[kind].get(code) for kind in _SOURCE_ORDER]
        present = [r for r in rows if r is not None]
        value_row, surge_row, gain_row = rows
        price = _first(*(r.price for r in present))
        volume = _first(*(r.volume for r in present if r.volume))
        value = value_row.value_krw if value_row is not None else None
        estimated = False
        if value is None and isinstance(price, int) and isinstance(volume, int):
            value, estimated = price * volume, True
        merged.append(
            MergedRow(
                rank=0,
                code=code,
                name=str(_first(*(r.name for r in present)) or ""),
                price=price if isinstance(price, int) else None,
                change_pct=_first(*(r.change_rate for r in present)),  # type: ignore[arg-type]
                value_krw=value,
                value_estimated=estimated,
                volume=volume if isinstance(volume, int) else None,
                volume_ratio=volume_ratio_of(surge_row.surge_rate) if surge_row else None,
                value_rank=value_row.rank if value_row else None,
                surge_rank=surge_row.rank if surge_row else None,
                gain_rank=gain_row.rank if gain_row else None,
            )
        )
    never = 1 << 30

    def order(row: MergedRow) -> tuple[int, int, int, int, int, str]:
        return (
            0 if row.value_krw is not None else 1,
            -(row.value_krw or 0),
            row.value_rank or never,
            row.surge_rank or never,
            row.gain_rank or never,
            row.code,
        )

    ranked = sorted(merged, key=order)
    if top_n is not None:
        ranked = ranked[: max(top_n, 0)]
    return [replace(row, rank=i) for i, row in enumerate(ranked, 1)]
