"""`ma_cross`: a plain moving-average crossover on 1-minute closes (the throughput bench's workload).

Buy a code when its fast simple moving average of closes crosses above the slow one at a closed bar;
sell when it crosses back below. The averages run over the code's bars of the day (they restart each
trading day, like every other state of the market), so no signal comes before `slow` bars of the day.
Each signal's key carries the bar's KST minute (`ma_cross:<code>:<day>:buy-0931`), so a code may trade
several times a day and each crossing fires once. Pure and incremental: O(1) per bar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import NO_SIGNALS, Strategy, StrategySettings, signal_key
from .events import Signal
from .market import CodeState, Market, MinuteBar, kst_hhmm, ms_to_datetime
from .params import Param, Schema

__all__ = ["MaCross"]


def _check(values: dict[str, Any]) -> dict[str, list[str]]:
    if values["slow"] <= values["fast"]:
        return {"slow": ["빠른 이평보다 커야 합니다 (must be above the fast average)"]}
    return {}


class _Averages:
    """Running sums of the last `fast` and `slow` closes of one code on one day."""

    __slots__ = ("above", "closes", "day", "fast_sum", "slow_sum")

    def __init__(self, day: Any) -> None:
        self.day = day
        self.closes: list[int] = []
        self.fast_sum = 0
        self.slow_sum = 0
        self.above: bool | None = None  # fast > slow at the last bar (None: not both known yet)


class MaCross(Strategy):
    name = "ma_cross"
    label = "이동평균 교차"
    label_en = "Moving-average crossover"
    schema = Schema(
        (
            Param("fast", "int", 5, "빠른 이평(봉)", "Fast average (bars)", min=1, max=200),
            Param("slow", "int", 20, "느린 이평(봉)", "Slow average (bars)", min=2, max=400),
        ),
        check=_check,
    )

    def __init__(self, settings: StrategySettings, market: Market | None = None) -> None:
        self.averages: dict[str, _Averages] = {}
        super().__init__(settings, market)

    def apply_params(self, params: Mapping[str, Any]) -> None:
        self.fast = int(params["fast"])
        self.slow = int(params["slow"])

    def on_bar(self, state: CodeState, bar: MinuteBar, from_ticks: bool) -> Sequence[Signal]:
        avg = self.averages.get(state.code)
        if avg is None or avg.day != state.day:
            avg = self.averages[state.code] = _Averages(state.day)
        closes = avg.closes
        close = bar.close
        closes.append(close)
        n = len(closes)
        avg.fast_sum += close
        avg.slow_sum += close
        if n > self.fast:
            avg.fast_sum -= closes[n - 1 - self.fast]
        if n > self.slow:
            avg.slow_sum -= closes[n - 1 - self.slow]
        if n < self.slow:
            return NO_SIGNALS
        # Compare fast/slow without division: fast_sum × slow vs slow_sum × fast (integers).
        above = avg.fast_sum * self.slow > avg.slow_sum * self.fast
        before = avg.above
        avg.above = above
        if before is None or above == before:
            return NO_SIGNALS
        if above and not self._settings.enabled:
            return NO_SIGNALS
        side = "buy" if above else "sell"
        at = ms_to_datetime(bar.end_ms)
        kind = f"{side}-{kst_hhmm(bar.end_ms)}"
        return (
            Signal(
                strategy=self.name,
                code=state.code,
                side=side,
                at=at,
                reason=f"이평 교차 {'상향' if above else '하향'} ({self.fast}/{self.slow})",
                price=close,
                features={
                    "rule": "ma_cross",
                    "fast": round(avg.fast_sum / self.fast, 2),
                    "slow": round(avg.slow_sum / self.slow, 2),
                },
                key=signal_key(self.name, state.code, state.day, kind),
            ),
        )
