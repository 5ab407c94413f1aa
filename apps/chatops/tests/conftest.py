from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.chatops.bot import BotAPI
from apps.chatops.poller import Poller

from .fakebot import FakeBotAPI

TOKEN = "123456:TEST-secret-token-value"


@pytest.fixture
def fake_bot(settings) -> Iterator[FakeBotAPI]:
    fake = FakeBotAPI(TOKEN)
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_BASE = fake.base
    settings.NOTIFY_ALLOW_LOCAL_HOSTS = ["127.0.0.1"]
    yield fake
    fake.close()


@pytest.fixture
def poller(fake_bot, db) -> Iterator[Poller]:
    api = BotAPI(TOKEN, fake_bot.base)
    yield Poller(api, poll_timeout=0, sleep=lambda seconds: None)
    api.close()
