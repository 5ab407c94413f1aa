"""System checks refuse unsafe combinations."""

from __future__ import annotations

from apps.core.checks import check_trading_safety


def _ids(errors) -> set[str]:
    return {e.id for e in errors}


def test_real_host_with_debug_is_refused(settings):
    settings.DEBUG = True
    settings.KIWOOM_BASE_URL = "https://api.kiwoom.com"
    assert "stockagent.E001" in _ids(check_trading_safety())


def test_mock_host_with_debug_is_allowed(settings):
    settings.DEBUG = True
    settings.KIWOOM_BASE_URL = "https://mockapi.kiwoom.com"
    settings.KIWOOM_WS_URL = "wss://mockapi.kiwoom.com:10000/api/dostk/websocket"
    assert "stockagent.E001" not in _ids(check_trading_safety())


def test_missing_encryption_key_without_debug_is_refused(settings):
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEY = ""
    assert "stockagent.E002" in _ids(check_trading_safety())


def test_invalid_encryption_key_is_refused(settings):
    settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    assert "stockagent.E003" in _ids(check_trading_safety())


def test_test_configuration_passes():
    assert check_trading_safety() == []


def test_channel_layer_with_redis_default_socket_timeout_is_refused(settings):
    # What the project shipped: a bare URL gets redis-py 8's 5-s socket timeout, no longer than the
    # layer's 5-s blocking read, and every idle /ws/live socket died with 1011.
    from apps.core.checks import check_channel_layer_timeouts

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]},
        }
    }
    assert "stockagent.E005" in _ids(check_channel_layer_timeouts())


def test_project_channel_layer_outlasts_the_blocking_read():
    from apps.core.checks import check_channel_layer_timeouts

    assert check_channel_layer_timeouts() == []
