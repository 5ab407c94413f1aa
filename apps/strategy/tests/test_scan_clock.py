"""The opening scan acts on the exchange's time only: never on the wall's while the simulator is silent."""

from __future__ import annotations

from apps.broker.clock import reset_cache


def test_the_scan_tick_skips_while_the_exchange_clock_is_unknown(settings) -> None:
    from apps.strategy.tasks import scan_tick

    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_BASE_URL = "http://127.0.0.1:9"
    reset_cache()
    try:
        assert scan_tick.run() == {"skipped": "exchange clock unavailable"}
    finally:
        reset_cache()
