"""Secrets never reach a log line."""

from __future__ import annotations

import logging

import pytest

from apps.core.logging import RedactSecretsFilter, redact


def _record(msg, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


@pytest.mark.parametrize(
    "text",
    [
        '{"grant_type": "client_credentials", "appkey": "AK123456789", "secretkey": "SK987654321"}',
        "authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "token=abcdefgh12345678&x=1",
        "password: hunter2hunter2",
    ],
)
def test_credential_shaped_pairs_are_masked(text):
    cleaned = redact(text)
    for secret in (
        "AK123456789",
        "SK987654321",
        "eyJhbGciOiJIUzI1NiJ9",
        "abcdefgh12345678",
        "hunter2hunter2",
    ):
        assert secret not in cleaned
    assert "***" in cleaned


def test_filter_masks_configured_secret_values_in_args_and_tracebacks(settings):
    settings.SECRET_VALUES_FOR_REDACTION = ["my-kiwoom-secret-value"]
    flt = RedactSecretsFilter()
    record = _record("issuing token with %s", "my-kiwoom-secret-value")
    try:
        raise ValueError("bad secret my-kiwoom-secret-value")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()

    assert flt.filter(record) is True
    formatted = logging.Formatter().format(record)
    assert "my-kiwoom-secret-value" not in formatted
    assert "issuing token with ***" in formatted


def test_configured_logging_redacts_real_settings_secret(settings, caplog):
    from django.conf import settings as live

    logger = logging.getLogger("apps.test")
    handler_filter = RedactSecretsFilter()
    caplog.handler.addFilter(handler_filter)
    logger.warning("leaking %s", live.SECRET_KEY)
    assert live.SECRET_KEY not in caplog.text


def test_json_log_format_is_one_redacted_json_object_per_line(settings):
    import io
    import json
    import logging.config

    settings.SECRET_VALUES_FOR_REDACTION = ["super-secret-app-key"]
    config = dict(settings.LOGGING)
    stream = io.StringIO()
    config["handlers"] = {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["redact"],
            "stream": stream,
        }
    }
    config["root"] = {"handlers": ["json"], "level": "INFO"}
    config["loggers"] = {}
    logging.config.dictConfig(config)
    try:
        logging.getLogger("apps.broker").warning("login with %s refused", "super-secret-app-key")
    finally:
        logging.config.dictConfig(settings.LOGGING)

    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["level"] == "WARNING"
    assert line["logger"] == "apps.broker"
    assert line["message"] == "login with *** refused"
