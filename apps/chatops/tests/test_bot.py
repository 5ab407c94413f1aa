"""The bot end to end against a local fake bot API: linking with a one-time code, strangers refused,
read commands, the trading gate through /stop and /start, /flatten's confirmation, roles, and a restart
that does not run a command twice."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from apps.chatops.bot import BotAPI
from apps.chatops.commands import handle
from apps.chatops.models import ChatCommand, Outcome, TelegramLink
from apps.chatops.poller import Poller
from apps.chatops.services import link_code_issue
from apps.core.models import RuntimeFlag, RuntimeFlagEvent
from apps.core.tests.factories import RuntimeFlagFactory
from apps.risk.services.gate import gate_status
from apps.risk.services.liquidation import liquidation_current
from apps.risk.tests.conftest import clear_risk_keys

from .conftest import TOKEN

pytestmark = pytest.mark.django_db

TRADER_CHAT = 5001
VIEWER_CHAT = 5002
STRANGER_CHAT = 6666


@pytest.fixture(autouse=True)
def _risk_keys() -> Iterator[None]:
    clear_risk_keys()  # liquidation runs and locks live in Redis
    yield
    clear_risk_keys()


@pytest.fixture
def gate_open(db) -> RuntimeFlag:
    flag = RuntimeFlagFactory(key="trading-enabled")
    RuntimeFlag.objects.filter(pk=flag.pk).update(enabled=True)
    return flag


def _link(user, chat_id: int) -> TelegramLink:
    return TelegramLink.objects.create(user=user, chat_id=chat_id, chat_name=user.username)


def _say(fake_bot, poller: Poller, chat_id: int, text: str, **kw) -> str:
    fake_bot.say(chat_id, text, **kw)
    poller.step()
    return fake_bot.replies(chat_id)[-1]


def test_link_with_a_one_time_code_from_the_web(fake_bot, poller, trader_client, trader) -> None:
    page = trader_client.post("/telegram/").content.decode()
    code = re.search(r"/link ([A-Z0-9]{8})", page).group(1)
    reply = _say(fake_bot, poller, TRADER_CHAT, f"/link {code}", username="tr")
    assert "trader1" in reply
    link = TelegramLink.objects.get(chat_id=TRADER_CHAT)
    assert link.user == trader and link.chat_name == "tr"
    row = ChatCommand.objects.get(command="link")
    assert (
        row.outcome == Outcome.OK and row.args == "***" and row.reply_sent
    )  # the code not journalled
    # single use: another chat with the same code is refused and not linked
    reply = _say(fake_bot, poller, STRANGER_CHAT, f"/link {code}")
    assert "만료" in reply
    assert not TelegramLink.objects.filter(chat_id=STRANGER_CHAT).exists()
    # the page lists the link; unlink from the web
    assert str(TRADER_CHAT) in trader_client.get("/telegram/").content.decode()
    trader_client.post(f"/telegram/links/{link.pk}/delete")
    assert not TelegramLink.objects.exists()


def test_an_expired_code_does_not_link(fake_bot, poller, trader, settings) -> None:
    settings.TELEGRAM_LINK_CODE_SECONDS = -1
    code, _ = link_code_issue(trader)
    _say(fake_bot, poller, TRADER_CHAT, f"/link {code}")
    assert not TelegramLink.objects.exists()


def test_guessing_codes_is_stopped(fake_bot, poller, trader) -> None:
    for _ in range(5):
        _say(fake_bot, poller, STRANGER_CHAT, "/link AAAAAAAA")
    code, _ = link_code_issue(trader)
    reply = _say(fake_bot, poller, STRANGER_CHAT, f"/link {code}")
    assert "너무 많습니다" in reply
    assert not TelegramLink.objects.exists()


def test_a_stranger_is_refused_and_nothing_happens(fake_bot, poller, gate_open) -> None:
    reply = _say(fake_bot, poller, STRANGER_CHAT, "/stop")
    assert "연결되지 않은" in reply
    assert gate_status()["switch"] is True
    row = ChatCommand.objects.get(chat_id=STRANGER_CHAT)
    assert row.outcome == Outcome.REFUSED and row.user is None and row.command == "stop"
    reply = _say(fake_bot, poller, STRANGER_CHAT, "/flatten")
    assert "연결되지 않은" in reply and liquidation_current() is None


def test_a_group_chat_is_refused_even_when_linked(fake_bot, poller, trader, gate_open) -> None:
    _link(trader, TRADER_CHAT)
    reply = _say(fake_bot, poller, TRADER_CHAT, "/stop", chat_type="group")
    assert "개인 채팅" in reply and gate_status()["switch"] is True


def test_status_positions_pnl(fake_bot, poller, viewer, gate_open) -> None:
    _link(viewer, VIEWER_CHAT)
    status = _say(fake_bot, poller, VIEWER_CHAT, "/status")
    assert "자동매매 스위치: ON" in status and "신규 진입: 허용" in status
    assert "보유 종목이 없습니다" in _say(fake_bot, poller, VIEWER_CHAT, "/positions")
    assert "합계: 0원" in _say(fake_bot, poller, VIEWER_CHAT, "/pnl")
    english = _say(fake_bot, poller, VIEWER_CHAT, "/status", language="en")
    assert "switch" in english.lower()  # the sender's Telegram language
    assert set(ChatCommand.objects.values_list("outcome", flat=True)) == {Outcome.OK}


def test_stop_closes_the_gate_and_start_opens_it(fake_bot, poller, trader, gate_open) -> None:
    _link(trader, TRADER_CHAT)
    reply = _say(fake_bot, poller, TRADER_CHAT, "/stop 점심")
    assert "정지했습니다" in reply
    assert gate_status() == {"state": "active", "switch": False, "entries_allowed": False}
    event = RuntimeFlagEvent.objects.filter(flag__key="trading-enabled").first()
    assert event.changed_by == trader and event.reason == "Telegram: 점심" and not event.enabled
    # a bare /start (also what Telegram sends when a chat opens the bot) starts nothing
    assert "사유" in _say(fake_bot, poller, TRADER_CHAT, "/start")
    assert gate_status()["switch"] is False
    assert "시작했습니다" in _say(fake_bot, poller, TRADER_CHAT, "/start 재개")
    assert gate_status()["entries_allowed"] is True


def test_a_viewer_may_read_but_not_stop(fake_bot, poller, viewer, gate_open) -> None:
    _link(viewer, VIEWER_CHAT)
    for command in ("/stop", "/start 재개", "/flatten"):
        assert "트레이더 권한" in _say(fake_bot, poller, VIEWER_CHAT, command)
    assert gate_status()["switch"] is True and liquidation_current() is None
    assert set(ChatCommand.objects.values_list("outcome", flat=True)) == {Outcome.DENIED}


def test_flatten_needs_confirmation(
    fake_bot, poller, trader, gate_open, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from apps.risk import tasks

    queued: list[str] = []
    monkeypatch.setattr(tasks.liquidate, "delay", lambda run_id: queued.append(run_id))
    _link(trader, TRADER_CHAT)
    ask = _say(fake_bot, poller, TRADER_CHAT, "/flatten 급락")
    code = re.search(r"/confirm (\d{6})", ask).group(1)
    assert liquidation_current() is None and gate_status()["switch"] is True  # nothing yet
    wrong = "000000" if code != "000000" else "111111"
    assert "맞지 않거나" in _say(fake_bot, poller, TRADER_CHAT, f"/confirm {wrong}")
    assert liquidation_current() is None
    with django_capture_on_commit_callbacks(execute=True):
        done = _say(fake_bot, poller, TRADER_CHAT, f"/confirm {code}")
    assert "비상 청산을 시작" in done
    run = liquidation_current()
    assert run is not None and queued == [run.id]  # on the orders queue, like the API
    assert run.requested_by == "trader1" and run.reason == "Telegram: 급락"
    assert gate_status()["switch"] is False
    # the code is single use
    assert "맞지 않거나" in _say(fake_bot, poller, TRADER_CHAT, f"/confirm {code}")
    assert queued == [run.id]


def test_an_expired_confirmation_does_nothing(
    fake_bot, poller, trader, gate_open, settings
) -> None:
    settings.TELEGRAM_CONFIRM_SECONDS = -1
    _link(trader, TRADER_CHAT)
    code = re.search(r"/confirm (\d{6})", _say(fake_bot, poller, TRADER_CHAT, "/flatten")).group(1)
    assert "만료" in _say(fake_bot, poller, TRADER_CHAT, f"/confirm {code}")
    assert liquidation_current() is None


def test_a_restart_does_not_replay_an_update(fake_bot, poller, trader, gate_open) -> None:
    _link(trader, TRADER_CHAT)
    update_id = fake_bot.say(TRADER_CHAT, "/stop")
    # The poller crashed after taking the update, before its next getUpdates confirmed it to Telegram.
    update = next(u for u in fake_bot.updates if u["update_id"] == update_id)
    assert handle(TOKEN.split(":")[0], update) is not None
    assert gate_status()["switch"] is False
    RuntimeFlag.objects.filter(key="trading-enabled").update(enabled=True)
    # A new process: it asks from the cursor, and the journal refuses the same update anyway.
    api = BotAPI(TOKEN, fake_bot.base)
    try:
        assert Poller(api, poll_timeout=0).step() == 0
    finally:
        api.close()
    assert fake_bot.offsets[-1] == update_id + 1
    assert handle(TOKEN.split(":")[0], update) is None
    assert gate_status()["switch"] is True  # /stop did not run again
    assert ChatCommand.objects.filter(update_id=update_id).count() == 1


def test_unknown_command_and_help(fake_bot, poller, trader) -> None:
    _link(trader, TRADER_CHAT)
    assert "/help" in _say(fake_bot, poller, TRADER_CHAT, "/frobnicate")
    assert "/flatten" in _say(fake_bot, poller, TRADER_CHAT, "/help")
    assert "/link" in _say(fake_bot, poller, STRANGER_CHAT, "/help")
    assert "해제" in _say(fake_bot, poller, TRADER_CHAT, "/unlink")
    assert not TelegramLink.objects.exists()


def test_positions_lists_the_books(fake_bot, poller, viewer) -> None:
    from apps.accounts.selectors import active_account_no
    from apps.trades.tests.factories import PositionFactory

    PositionFactory(account_no=active_account_no(), current_price=77_000)
    PositionFactory(account_no=active_account_no(), code="000660", name="SK하이닉스")
    _link(viewer, VIEWER_CHAT)
    reply = _say(fake_bot, poller, VIEWER_CHAT, "/positions")
    assert "보유 2종목" in reply
    assert "005930 삼성전자 10주 @ 70,000원 → 77,000원 70,000원 (+10.00%)" in reply
    assert "000660 SK하이닉스 10주 @ 70,000원 → - -" in reply  # no price known yet
