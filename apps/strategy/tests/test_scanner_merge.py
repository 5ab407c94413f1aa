"""The scanner's merge of the three rankings on handmade rows: one candidate per stock, ranked by trading
value; exclusions, ties and missing values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.broker.contract import Direction, RankingKind, RankingRow
from apps.strategy.scanner_merge import merge_rankings, volume_ratio_of

V, S, G = RankingKind.TRADING_VALUE, RankingKind.VOLUME_SURGE, RankingKind.CHANGE_RATE


def row(
    rank: int,
    code: str,
    *,
    price: int | None = 10_000,
    value: int | None = None,
    volume: int = 1_000,
    rate: str | None = "1.00",
    surge: str | None = None,
    name: str = "",
) -> RankingRow:
    return RankingRow(
        rank=rank,
        code=code,
        name=name or f"종목{code}",
        price=price,
        direction=Direction.UP,
        change=0,
        change_rate=Decimal(rate) if rate is not None else None,
        volume=volume,
        value_krw=value,
        surge_rate=Decimal(surge) if surge is not None else None,
    )


def test_one_candidate_per_stock_ranked_by_trading_value() -> None:
    merged = merge_rankings(
        {
            V: [row(1, "000001", value=9_000_000_000), row(2, "000002", value=5_000_000_000)],
            S: [row(1, "000002", surge="150.00"), row(2, "000003", price=2_000, volume=3_000_000)],
            G: [row(1, "000003", rate="29.90"), row(2, "000001", rate="12.50")],
        }
    )
    assert [(m.rank, m.code) for m in merged] == [(1, "000001"), (2, "000003"), (3, "000002")]
    first, estimated, second = merged
    assert (first.value_rank, first.surge_rank, first.gain_rank) == (1, None, 2)
    assert first.volume_ratio is None  # not in the surge ranking: unknown, not 0
    # Only in surge/gainers: price × today's volume, marked as an estimate.
    assert estimated.value_krw == 2_000 * 3_000_000 and estimated.value_estimated
    assert (estimated.value_rank, estimated.surge_rank, estimated.gain_rank) == (None, 2, 1)
    assert second.volume_ratio == Decimal("2.50") and not second.value_estimated


def test_excluded_codes_are_dropped_before_ranking() -> None:
    merged = merge_rankings(
        {V: [row(1, "000001", value=3), row(2, "000002", value=2), row(3, "000003", value=1)]},
        excluded={"000001"},
    )
    assert [(m.rank, m.code) for m in merged] == [(1, "000002"), (2, "000003")]


def test_ties_follow_the_trading_value_ranking_then_the_others_then_the_code() -> None:
    merged = merge_rankings(
        {
            V: [row(2, "000009", value=100), row(1, "000008", value=100)],
            S: [row(1, "000005", price=10, volume=10), row(2, "000004", price=10, volume=10)],
        }
    )
    # 000008 and 000009 tie at 100: the ranking's own order (rank 1 first); 000005 (surge rank 1)
    # and 000004 (surge rank 2) tie at the estimated 100 too and follow.
    assert [m.code for m in merged] == ["000008", "000009", "000005", "000004"]
    assert [m.rank for m in merged] == [1, 2, 3, 4]


def test_missing_values_rank_last_and_stay_unknown() -> None:
    merged = merge_rankings(
        {
            V: [row(1, "000001", value=None, price=None), row(2, "000002", value=10)],
            G: [row(1, "000003", price=None, rate=None)],
        }
    )
    assert [m.code for m in merged] == ["000002", "000001", "000003"]
    unknown = merged[1]
    assert unknown.value_krw is None and unknown.price is None and not unknown.value_estimated
    assert merged[2].change_pct is None


def test_bad_codes_and_repeats_are_dropped_and_prefixes_stripped() -> None:
    merged = merge_rankings(
        {
            V: [
                row(1, "A005930", value=10),
                row(2, "", value=9),
                row(3, "AAPL", value=8),
                row(4, "005930", value=7),
            ]
        }
    )
    assert [(m.code, m.value_krw) for m in merged] == [("005930", 10)]


def test_top_n_keeps_the_first_n() -> None:
    rows = [row(i, f"{i:06d}", value=100 - i) for i in range(1, 11)]
    assert [m.code for m in merge_rankings({V: rows}, top_n=3)] == ["000001", "000002", "000003"]
    assert merge_rankings({V: rows}, top_n=0) == []
    assert merge_rankings({}) == []


def test_fields_come_from_the_first_ranking_that_reports_them() -> None:
    merged = merge_rankings(
        {
            V: [row(1, "000001", value=5, price=None, rate=None, name="")],
            S: [row(1, "000001", price=1_500, rate="3.10", surge="-20.00", name="가나다")],
        }
    )
    (m,) = merged
    assert (m.price, m.change_pct, m.volume_ratio) == (1_500, Decimal("3.10"), Decimal("0.80"))
    assert m.name == "종목000001"  # the trading-value row's (generated) name comes first


@pytest.mark.parametrize(
    ("rate", "ratio"),
    [("0", "1.00"), ("150.00", "2.50"), ("-100.00", "0.00"), ("-250", "0.00"), (None, None)],
)
def test_volume_ratio_of_surge_rate(rate: str | None, ratio: str | None) -> None:
    got = volume_ratio_of(Decimal(rate) if rate is not None else None)
    assert got == (Decimal(ratio) if ratio is not None else None)
