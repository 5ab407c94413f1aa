"""get_broker() and the active account: its keys and hosts, env keys without one, a switch seen by every
process through the generation, and no secret in a log line or a repr."""

from __future__ import annotations

import logging

import pytest

from apps.accounts import credentials, services
from apps.accounts.models import Mode
from apps.accounts.tests.factories import BrokerAccountFactory
from apps.broker import backends
from apps.broker.backends import kiwoom_config_from_settings
from apps.broker.kiwoom.config import MOCK_BASE_URL, REAL_BASE_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def kiwoom_backend(settings, monkeypatch):
    settings.BROKER_BACKEND = "kiwoom"
    monkeypatch.setattr(backends, "CREDENTIALS_RECHECK_SECONDS", 0.0)
    backends.reset_broker()
    yield
    backends.reset_broker()


def _config():
    return kiwoom_config_from_settings(backends.active_credentials())


def test_env_keys_without_an_account(settings) -> None:
    config = _config()
    assert config.app_key == settings.KIWOOM_APP_KEY
    assert config.base_url == settings.KIWOOM_BASE_URL


def test_active_account_keys_and_hosts(settings) -> None:
    settings.KIWOOM_USE_SIMULATOR = True
    BrokerAccountFactory(is_active=True, mode=Mode.REAL, app_key="REAL-APP-KEY-0001")
    config = _config()
    assert config.app_key == "REAL-APP-KEY-0001"
    assert config.base_url == REAL_BASE_URL and not config.is_mock


def test_mock_mode_is_the_mock_host(settings) -> None:
    settings.KIWOOM_USE_SIMULATOR = True
    BrokerAccountFactory(is_active=True, mode=Mode.MOCK)
    config = _config()
    assert config.base_url == MOCK_BASE_URL and config.is_mock


def test_settings_mode_keeps_settings_urls(settings) -> None:
    settings.KIWOOM_USE_SIMULATOR = True
    settings.KIWOOM_BASE_URL = "http://127.0.0.1:19999"
    BrokerAccountFactory(is_active=True, mode=Mode.SIMULATOR)
    assert _config().base_url == "http://127.0.0.1:19999"


def test_switch_rebuilds_the_broker(kiwoom_backend, django_capture_on_commit_callbacks) -> None:
    first = BrokerAccountFactory(is_active=True, app_key="FIRST-APP-KEY-000")
    second = BrokerAccountFactory(app_key="SECOND-APP-KEY-00")
    broker = backends.get_broker()
    assert broker.config.app_key == first.app_key
    assert backends.get_broker() is broker  # unchanged generation: the same broker
    with django_capture_on_commit_callbacks(execute=True):
        services.account_activate(second)
    rebuilt = backends.get_broker()
    assert rebuilt is not broker and rebuilt.config.app_key == second.app_key


def test_no_secret_in_repr_or_logs(
    kiwoom_backend, caplog, django_capture_on_commit_callbacks
) -> None:
    caplog.set_level(logging.DEBUG)
    BrokerAccountFactory(is_active=True, app_key="LEAKY-APP-KEY-42", secret_key="LEAKY-SECRET-42")
    other = BrokerAccountFactory(secret_key="OTHER-SECRET-77")
    with django_capture_on_commit_callbacks(execute=True):
        services.account_activate(other)
    broker = backends.get_broker()
    creds = backends.active_credentials()
    for text in (repr(creds), repr(broker.config), caplog.text):
        assert "LEAKY-SECRET" not in text and "OTHER-SECRET" not in text


def test_generation_is_shared_through_redis() -> None:
    before = credentials.generation()
    credentials.generation_bump()
    assert credentials.generation() != before


def test_active_keys_are_redacted_from_logs() -> None:
    from apps.core.logging import RedactSecretsFilter

    BrokerAccountFactory(is_active=True, secret_key="RUNTIME-SECRET-5555")
    backends.active_credentials()
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "oops %s", ("RUNTIME-SECRET-5555",), None
    )
    RedactSecretsFilter().filter(record)
    assert "RUNTIME-SECRET" not in record.getMessage()
