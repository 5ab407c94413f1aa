"""Broker backends and `get_broker()`, which picks one from Django settings.

BROKER_BACKEND = "kiwoom" (default; real host, Kiwoom's mock host or the simulator, by URL) or
"memory" (in-process, for unit tests). One instance per process.

Credentials: from settings (KIWOOM_APP_KEY/KIWOOM_SECRET_KEY/KIWOOM_ACCOUNT or the simulator's demo pair),
unless a credentials source is installed (`set_credentials_source`; the accounts app installs one that
reads the active broker account). The source also names a generation: when it changes (another account
was activated), `get_broker()` builds a new broker within `CREDENTIALS_RECHECK_SECONDS`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

# The reconnect pace (the realtime hub's first connect waits like the client's reconnects).
from apps.broker.backoff import reconnect_delay as reconnect_delay

# The exchange's clock (wall clock, or the simulator's) is reached through here like the broker itself.
from apps.broker.clock import ExchangeClock as ExchangeClock
from apps.broker.clock import exchange_clock as exchange_clock
from apps.broker.clock import exchange_now as exchange_now
from apps.broker.contract import Broker, Condition
from apps.broker.kiwoom.config import (
    MOCK_BASE_URL,
    MOCK_WS_URL,
    REAL_BASE_URL,
    REAL_WS_URL,
    KiwoomConfig,
)

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .simulated import SimulatorHistory

_lock = threading.Lock()
_broker: Broker | None = None
_broker_generation = ""
_checked_at = 0.0
_follows_account = False
CREDENTIALS_RECHECK_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class BrokerCredentials:
    """What an account contributes to the connection. `generation` changes when the account does."""

    app_key: str = dataclasses.field(repr=False)
    secret_key: str = dataclasses.field(repr=False)
    account: str
    base_url: str
    ws_url: str
    is_mock: bool
    generation: str


@dataclasses.dataclass(frozen=True)
class CredentialsSource:
    credentials: Callable[[], BrokerCredentials | None]  # None: use the settings
    generation: Callable[[], str]  # cheap (no database): checked every few seconds


_source: CredentialsSource | None = None


def kiwoom_hosts(*, mock: bool) -> tuple[str, str]:
    """(REST base URL, WebSocket URL) of Kiwoom's real or mock-trading host."""
    return (MOCK_BASE_URL, MOCK_WS_URL) if mock else (REAL_BASE_URL, REAL_WS_URL)


def set_credentials_source(source: CredentialsSource | None) -> None:
    global _source
    _source = source


def active_credentials() -> BrokerCredentials | None:
    if _source is None:
        return None
    try:
        return _source.credentials()
    except Exception as exc:
        # Never the exception text: it could carry a key. The settings' keys still work.
        log.warning("broker credentials source failed (%s); using the settings", type(exc).__name__)
        return None


def _generation() -> str:
    if _source is None:
        return ""
    try:
        return _source.generation()
    except Exception as exc:
        log.warning("broker credentials generation unreadable (%s)", type(exc).__name__)
        return _broker_generation


def kiwoom_config_from_settings(credentials: BrokerCredentials | None = None) -> KiwoomConfig:
    """The settings' connection, with an account's keys and hosts over it when one is given."""
    from django.conf import settings

    config = KiwoomConfig(
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
    if credentials is None:
        return config
    return dataclasses.replace(
        config,
        app_key=credentials.app_key,
        secret_key=credentials.secret_key,
        account=credentials.account,
        base_url=credentials.base_url,
        ws_url=credentials.ws_url,
        is_mock=credentials.is_mock,
    )


def _backend_name() -> str:
    from django.conf import settings

    return (getattr(settings, "BROKER_BACKEND", "kiwoom") or "kiwoom").lower()


def build_broker(
    backend: str | None = None, credentials: BrokerCredentials | None = None
) -> Broker:
    name = (backend or _backend_name()).lower()
    if name == "memory":
        from .memory import MemoryBroker

        return MemoryBroker()
    if name == "kiwoom":
        from .kiwoom import KiwoomBroker

        return KiwoomBroker(kiwoom_config_from_settings(credentials or active_credentials()))
    raise ValueError(f"unknown BROKER_BACKEND {name!r} (expected 'kiwoom' or 'memory')")


def get_broker() -> Broker:
    """The process-wide broker chosen by settings.BROKER_BACKEND (rebuilt when the active account changes)."""
    global _broker, _broker_generation, _checked_at, _follows_account
    with _lock:
        now = time.monotonic()
        if (
            _broker is not None
            and _source is not None
            and _follows_account
            and now - _checked_at >= CREDENTIALS_RECHECK_SECONDS
        ):
            _checked_at = now
            if _generation() != _broker_generation:
                # Not closed: a holder of the old one keeps a working broker (the realtime hub
                # notices on its next cycle, reconnects and closes it); new callers get the new one.
                log.info("broker account changed: new callers get the active account's broker")
                _broker = None
        if _broker is None:
            credentials = active_credentials()
            _broker = build_broker(credentials=credentials)
            _follows_account = _backend_name() == "kiwoom"
            _broker_generation = credentials.generation if credentials else _generation()
            _checked_at = now
        return _broker


def request_budget(credentials: BrokerCredentials | None = ...) -> dict[str, object]:  # type: ignore[assignment]
    """The shared request budget's use per priority class, for the health report. A caller that has
    read the active account's credentials already passes them (None: the settings'); without them
    they are read through the credentials source."""
    from .health import request_budget as _request_budget

    return _request_budget(credentials)


def reset_broker() -> None:
    """Forget the process-wide broker (tests that change settings)."""
    global _broker, _broker_generation
    with _lock:
        if _broker is not None:
            _broker.close()
        _broker = None
        _broker_generation = ""


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
