"""Broker backends and `get_broker()`, which picks one from Django settings.

BROKER_BACKEND = "kiwoom" (default; real host, Kiwoom's mock host or the simulator, by URL) or
"memory" (in-process, for unit tests). One instance per process.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import TYPE_CHECKING

# The exchange's clock (wall clock, or the simulator's) is reached through here like the broker itself.
from apps.broker.clock import exchange_clock as exchange_clock
from apps.broker.clock import exchange_now as exchange_now
from apps.broker.contract import Broker, Condition
from apps.broker.kiwoom.config import KiwoomConfig

if TYPE_CHECKING:
    from .simulated import SimulatorHistory

_lock = threading.Lock()
_broker: Broker | None = None


def kiwoom_config_from_settings() -> KiwoomConfig:
    from django.conf import settings

    return KiwoomConfig(
        app_key=settings.KIWOOM_APP_KEY,
        secret_key=settings.KIWOOM_SECRET_KEY,
        account=getattr(settings, "KIWOOM_ACCOUNT", ""),
        base_url=settings.KIWOOM_BASE_URL,
        ws_url=settings.KIWOOM_WS_URL,
        is_mock=bool(getattr(settings, "KIWOOM_IS_MOCK", False)),
        rate_query_per_sec=float(getattr(settings, "KIWOOM_RATE_QUERY_PER_SEC", 5)),
        timeout_seconds=float(getattr(settings, "KIWOOM_TIMEOUT_SECONDS", 10)),
        order_call_timeout=float(getattr(settings, "KIWOOM_ORDER_CALL_TIMEOUT_SECONDS", 15)),
        read_call_timeout=float(getattr(settings, "KIWOOM_READ_CALL_TIMEOUT_SECONDS", 90)),
        redis_url=settings.REDIS_URL,
        key_prefix=f"{getattr(settings, 'REDIS_KEY_PREFIX', '')}stockagent:kiwoom",
    )


def build_broker(backend: str | None = None) -> Broker:
    from django.conf import settings

    name = (backend or getattr(settings, "BROKER_BACKEND", "kiwoom") or "kiwoom").lower()
    if name == "memory":
        from .memory import MemoryBroker

        return MemoryBroker()
    if name == "kiwoom":
        from .kiwoom import KiwoomBroker

        return KiwoomBroker(kiwoom_config_from_settings())
    raise ValueError(f"unknown BROKER_BACKEND {name!r} (expected 'kiwoom' or 'memory')")


def get_broker() -> Broker:
    """The process-wide broker chosen by settings.BROKER_BACKEND."""
    global _broker
    with _lock:
        if _broker is None:
            _broker = build_broker()
        return _broker


def request_budget() -> dict[str, object]:
    """The shared request budget's use per priority class, for the health report."""
    from .health import request_budget as _request_budget

    return _request_budget()


def reset_broker() -> None:
    """Forget the process-wide broker (tests that change settings)."""
    global _broker
    with _lock:
        if _broker is not None:
            _broker.close()
        _broker = None


def simulator_conditions(path: str | None = None) -> list[Condition]:
    """The condition searches the bundled simulator serves (its YAML file, default: the shipped one),
    read without the simulator running: the demo seeds them before it starts. Raises OSError or
    ValueError on a bad file."""
    from apps.broker.simulator.conditions import load_conditions

    return [Condition(seq=c.seq, name=c.name) for c in load_conditions(path)]


def simulator_history(day: date, *, daily_days: int, minute_sessions: int) -> SimulatorHistory:
    """The bundled simulator's instruments and past bars before `day`, read without it running (the demo
    seeds them before the stack starts); see `simulated.simulator_history`."""
    from .simulated import simulator_history as _history

    return _history(day, daily_days=daily_days, minute_sessions=minute_sessions)
