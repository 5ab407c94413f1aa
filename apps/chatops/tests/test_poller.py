"""The polling loop: backoff on network and API errors without ending, no token in any log line or
error, the heartbeat on the health report, and runstack's process list."""

from __future__ import annotations

import logging

import pytest

from apps.chatops import health
from apps.chatops.bot import BotAPI, BotError
from apps.chatops.models import ChatCommand
from apps.chatops.poller import Poller
from apps.core.models import HealthStatus

from .conftest import TOKEN

pytestmark = pytest.mark.django_db


def _run(poller: Poller, steps: int) -> None:
    """Run the loop until it has called `step` this many times."""
    real = poller.step
    calls = {"n": 0}

    def step() -> int:
        calls["n"] += 1
        if calls["n"] >= steps:
            poller.stop()
        return real()

    poller.step = step  # type: ignore[method-assign]
    poller.run()


def test_api_errors_back_off_and_polling_goes_on(fake_bot, caplog) -> None:
    delays: list[float] = []
    api = BotAPI(TOKEN, fake_bot.base)
    poller = Poller(api, poll_timeout=0, sleep=delays.append, backoff_max=3.0)
    fake_bot.fail_next = [502, 502, 502, 502, 429]  # the first one is the menu's (setMyCommands)
    fake_bot.say(5001, "/help")
    caplog.set_level(logging.INFO)
    try:
        _run(poller, 5)
    finally:
        api.close()
    assert delays == [1.0, 2.0, 3.0, 3.0]  # doubling, capped
    assert poller.failures == 0
    assert fake_bot.replies(5001)  # the fifth poll got the message and answered it
    assert health.telegram_probe(True)[0] == HealthStatus.OK
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


def test_a_dead_api_is_a_network_error_without_the_token(settings, db) -> None:
    settings.NOTIFY_ALLOW_LOCAL_HOSTS = ["127.0.0.1"]
    api = BotAPI(TOKEN, "http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        with pytest.raises(BotError) as info:
            api.get_updates(1, 0)
    finally:
        api.close()
    assert "network error" in str(info.value) and TOKEN not in str(info.value)
    assert TOKEN not in repr(api)


def test_an_unexpected_error_is_logged_and_backed_off(fake_bot, caplog, monkeypatch) -> None:
    from apps.chatops import poller as poller_module

    def boom(bot, update):
        raise RuntimeError("bug")

    monkeypatch.setattr(poller_module, "handle", boom)
    delays: list[float] = []
    api = BotAPI(TOKEN, fake_bot.base)
    poller = Poller(api, poll_timeout=0, sleep=delays.append)
    fake_bot.say(5001, "/status")
    try:
        _run(poller, 2)
    finally:
        api.close()
    assert delays == [1.0, 2.0]  # never a hot loop
    status, message = health.telegram_probe(True)
    assert status == HealthStatus.DOWN and "RuntimeError" in message


def test_a_wrong_token_is_refused_without_echoing_it(fake_bot, db) -> None:
    api = BotAPI("999:wrong-token-here", fake_bot.base)
    try:
        with pytest.raises(BotError) as info:
            api.get_updates(1, 0)
    finally:
        api.close()
    assert info.value.status == 401 and "wrong-token-here" not in str(info.value)


def test_outbound_rules_refuse_plain_http_elsewhere(settings, db) -> None:
    settings.NOTIFY_ALLOW_LOCAL_HOSTS = []
    api = BotAPI(TOKEN, "http://127.0.0.1:9")
    try:
        with pytest.raises(BotError, match=r"not allowed|scheme"):
            api.send_message(1, "x")
    finally:
        api.close()


def test_a_failed_reply_is_journalled_as_not_sent(fake_bot, poller) -> None:
    fake_bot.say(6666, "/status")
    real = fake_bot.answer

    def answer(path, body):
        if path.endswith("/sendMessage"):
            return 500, {"ok": False, "description": "down"}
        return real(path, body)

    fake_bot.answer = answer
    poller.step()
    row = ChatCommand.objects.get()
    assert row.reply and not row.reply_sent  # at most once: the reply is not retried


def test_health_without_a_token_is_unknown(settings) -> None:
    settings.TELEGRAM_BOT_TOKEN = ""
    assert health.telegram_probe(True) == (HealthStatus.UNKNOWN, "not configured")


def test_health_without_a_heartbeat_is_down(settings) -> None:
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    health._redis().delete(health._key())
    assert health.telegram_probe(True)[0] == HealthStatus.DOWN


def test_runstack_starts_the_bot_only_with_a_token(settings) -> None:
    from apps.core.management.commands.runstack import Command

    options = {"host": "127.0.0.1", "port": 8000, "concurrency": 0, "only": ""}
    settings.TELEGRAM_BOT_TOKEN = ""
    assert "telegram" not in {s.name for s in Command().processes(options)}
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    spec = next(s for s in Command().processes(options) if s.name == "telegram")
    assert spec.argv[1:] == ["manage.py", "run_telegram"]
    assert TOKEN not in " ".join(spec.argv)  # the token reaches it through the environment


def test_run_telegram_refuses_without_a_token(settings) -> None:
    from django.core.management import CommandError, call_command

    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(CommandError):
        call_command("run_telegram")


def test_tunables_come_from_the_environment_unless_set(settings, monkeypatch) -> None:
    from apps.chatops.conf import setting

    monkeypatch.setenv("TELEGRAM_CONFIRM_SECONDS", "7")
    assert setting("TELEGRAM_CONFIRM_SECONDS") == 7
    settings.TELEGRAM_CONFIRM_SECONDS = 30
    assert setting("TELEGRAM_CONFIRM_SECONDS") == 30
    monkeypatch.delenv("TELEGRAM_CONFIRM_SECONDS")
    del settings.TELEGRAM_CONFIRM_SECONDS
    assert setting("TELEGRAM_CONFIRM_SECONDS") == 60
