"""Test and bench helpers: a risk configuration wide enough that only the risk tests' own limits bite.

The trades tests and the order benches trade sizes the seed's defaults refuse (a 60-million-won buy is
over the 10% weight of a 100-million account); they install this version first.
"""

from __future__ import annotations

from decimal import Decimal

from .models import RiskConfig

PERMISSIVE = {
    "weight_pct": Decimal(100),
    "max_positions": 100,
    "max_daily_loss_krw": 10**12,
    "max_daily_loss_pct": None,
    "max_order_value": None,
    "max_entries_per_minute": None,
    "no_entry_before_close_minutes": 0,
    "excluded_kinds": [],
    "reduce_at_pct": Decimal(100),
}


def permissive_config() -> RiskConfig:
    """A new active version with (practically) no entry limits."""
    from .services.config import config_update

    row, _warnings = config_update(PERMISSIVE, user=None, reason="tests: permissive limits")
    return row


def forget_risk_caches() -> None:
    """Per-process caches keyed by version / day: a rolled-back test database reuses the numbers."""
    from . import vi
    from .clock import forget
    from .policy import set_exit_policy_provider
    from .selectors import exit_policy_cached, forget_cache
    from .snapshot import forget_caches, set_vi_provider

    forget_cache()
    forget_caches()
    forget()
    vi.forget()
    # A test may install a provider of its own: each test starts with the configuration's again.
    set_exit_policy_provider(exit_policy_cached)
    set_vi_provider(vi.vi_active)


def seed_base_price(code: str, base_price: int, day: object | None = None) -> None:
    """A previous-day daily bar for `code`, so the risk engine knows the day's base price (the price
    limits, and the value of a market buy: its upper limit) without a quote."""
    import datetime as dt

    from apps.market.models import DailyBar

    day = day or dt.date(2000, 1, 3)
    DailyBar.objects.bulk_create(
        [
            DailyBar(
                instrument_id=code,
                date=day,
                open=base_price,
                high=base_price,
                low=base_price,
                close=base_price,
                volume=0,
                value=0,
            )
        ],
        ignore_conflicts=True,
    )
