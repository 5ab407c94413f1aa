"""The broker backend's credentials source: the active account's keys and hosts.

With no active account (or one without keys) the backend keeps using the settings (env keys or the
simulator's demo pair). The generation lives in Redis so every process sees a switch within seconds
without a database query on the order path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from django.conf import settings

from apps.broker.backends import (
    BrokerCredentials,
    CredentialsSource,
    kiwoom_hosts,
    set_credentials_source,
)
from apps.core.logging import redact_also
from apps.core.rediskeys import redis_key

if TYPE_CHECKING:
    from apps.accounts.models import BrokerAccount

GENERATION_KEY = redis_key("stockagent", "accounts", "generation")


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def settings_mode() -> str:
    """The mode the environment's connection settings describe."""
    from apps.accounts.models import Mode

    if settings.KIWOOM_USE_SIMULATOR:
        return Mode.SIMULATOR
    return Mode.MOCK if settings.KIWOOM_IS_MOCK else Mode.REAL


def hosts_for(mode: str) -> tuple[str, str, bool]:
    """(REST base URL, WebSocket URL, is Kiwoom's mock host) of an account mode. The mode the settings
    describe keeps the settings' URLs (a simulator on another port, a proxy in front of Kiwoom)."""
    from apps.accounts.models import Mode

    if mode == settings_mode():
        return settings.KIWOOM_BASE_URL, settings.KIWOOM_WS_URL, bool(settings.KIWOOM_IS_MOCK)
    if mode in (Mode.REAL, Mode.MOCK):
        return (*kiwoom_hosts(mock=mode == Mode.MOCK), mode == Mode.MOCK)
    base = f"http://{settings.KIWOOM_SIM_HOST}:{settings.KIWOOM_SIM_PORT}"
    return (
        base,
        f"ws://{settings.KIWOOM_SIM_HOST}:{settings.KIWOOM_SIM_PORT}/api/dostk/websocket",
        False,
    )


def generation() -> str:
    client = _redis()
    try:
        value = client.get(GENERATION_KEY)
    finally:
        client.close()
    return value.decode() if value else "0"


def generation_bump() -> None:
    """Tell every process's `get_broker()` that the active account changed."""
    client = _redis()
    try:
        client.incr(GENERATION_KEY)
    finally:
        client.close()


def active_credentials() -> BrokerCredentials | None:
    from apps.accounts.selectors import account_active

    return credentials_of(account_active())


def credentials_of(
    account: BrokerAccount | None, *, generation_value: str | None = None
) -> BrokerCredentials | None:
    """The credentials of an account already read (`active_credentials` without its query); the
    generation is read from Redis unless given (a caller that only needs the hosts passes "")."""
    if account is None or not account.has_keys:
        return None
    redact_also(account.app_key)
    redact_also(account.secret_key)
    base_url, ws_url, is_mock = hosts_for(account.mode)
    return BrokerCredentials(
        app_key=account.app_key,
        secret_key=account.secret_key,
        account=account.account_no,
        base_url=base_url,
        ws_url=ws_url,
        is_mock=is_mock,
        generation=generation() if generation_value is None else generation_value,
    )


def install() -> None:
    set_credentials_source(CredentialsSource(credentials=active_credentials, generation=generation))
