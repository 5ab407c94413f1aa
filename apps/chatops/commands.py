"""What the bot does with one message: who sent it, whether they may, and the reply.

Every command goes through the same services and roles as the web: start/stop through the trading gate
(`apps.risk.services.gate.switch_set`, like `POST /api/v1/system/start|stop`), flatten through the
emergency liquidation (`liquidation_request`, queued on the `orders` queue like
`POST /api/v1/risk/emergency-sell`), the figures from the selectors behind `GET /api/v1/risk/state` and
`GET /api/v1/account/positions`. A viewer may read; changes need the trader role (`core.trade`).
Only private chats count (in a group anyone could speak for the linked user), and only linked ones,
except `/link` and `/help`. Replies follow the sender's Telegram language (English, else Korean).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from apps.core.permissions import can_trade

from . import replies, services
from .models import ChatCommand, Outcome
from .selectors import failed_links, link_of_chat

log = logging.getLogger(__name__)

LINK_FAILURES_MAX = 5  # refused /link attempts of a chat per window before it is not even read
LINK_FAILURES_WINDOW = 600
MASKED = ("link", "confirm")  # their argument is a code: never journalled


@dataclass
class Message:
    update_id: int
    chat_id: int
    private: bool
    sender: str
    language: str
    command: str
    args: str

    @classmethod
    def parse(cls, update: dict[str, Any]) -> Message | None:
        msg = update.get("message") or {}
        chat = msg.get("chat") or {}
        text = msg.get("text")
        if "update_id" not in update or "id" not in chat or not isinstance(text, str):
            return None
        sender = msg.get("from") or {}
        name = sender.get("username") or sender.get("first_name") or ""
        head, _sep, rest = text.strip().partition(" ")
        command = head[1:].split("@", 1)[0].lower() if head.startswith("/") else ""
        return cls(
            update_id=int(update["update_id"]),
            chat_id=int(chat["id"]),
            private=chat.get("type") == "private",
            sender=str(name)[:100],
            language=str(sender.get("language_code") or ""),
            command=command[:32],
            args=rest.strip()[:200],
        )


@dataclass
class Result:
    outcome: str
    reply: str
    detail: str = ""


Handler = Callable[[Message, Any], Result]


def _lang(message: Message) -> str:
    return "en" if message.language.lower().startswith("en") else "ko"


def handle(bot: str, update: dict[str, Any]) -> tuple[ChatCommand, Message, str] | None:
    """Journal and run one update; returns (journal row, message, reply), or None when there is nothing
    to answer (not a text message, or an update taken before)."""
    message = Message.parse(update)
    if message is None:
        if "update_id" in update:
            services.cursor_advance(bot, int(update["update_id"]))
        return None
    link = link_of_chat(message.chat_id) if message.private else None
    row = services.command_claim(
        bot,
        message.update_id,
        chat_id=message.chat_id,
        user=link.user if link else None,
        sender=message.sender,
        command=message.command or "-",
        args="***" if message.command in MASKED and message.args else message.args,
    )
    if row is None:
        return None
    with translation.override(_lang(message)):
        try:
            result = _dispatch(message, link.user if link else None)
        except Exception as exc:  # one bad command must not stop the bot: journalled, answered
            log.exception("chat command %s failed", message.command)
            result = Result(Outcome.FAILED, replies.failed(), type(exc).__name__)
    services.command_finish(row, result.outcome, result.reply, result.detail)
    return row, message, result.reply


def _dispatch(message: Message, user: Any) -> Result:
    if not message.private:
        return Result(Outcome.REFUSED, _("개인 채팅에서만 명령을 받습니다."), "not a private chat")
    if message.command == "link":
        return _link(message)
    if message.command == "help":
        return Result(Outcome.OK, replies.help_text(linked=user is not None))
    if user is None or not user.is_active:
        return Result(Outcome.REFUSED, replies.not_linked(), "chat not linked")
    entry = COMMANDS.get(message.command)
    if entry is None:
        return Result(Outcome.INVALID, replies.unknown())
    handler, needs_trade = entry
    if needs_trade and not can_trade(user):
        return Result(
            Outcome.DENIED, _("이 명령은 트레이더 권한이 필요합니다."), "trader role required"
        )
    return handler(message, user)


def _link(message: Message) -> Result:
    if failed_links(message.chat_id, LINK_FAILURES_WINDOW) >= LINK_FAILURES_MAX:
        return Result(
            Outcome.REFUSED, _("잘못된 코드가 너무 많습니다. 잠시 후 다시 시도하세요."), "too many"
        )
    if not message.args:
        return Result(Outcome.INVALID, replies.link_usage())
    link = services.link_chat(message.args, message.chat_id, message.sender)
    if link is None:
        return Result(
            Outcome.INVALID,
            _("코드가 맞지 않거나 만료되었습니다. 웹에서 새 코드를 받으세요."),
            "bad code",
        )
    return Result(
        Outcome.OK,
        _("%(user)s 계정에 연결했습니다. /help 로 명령을 보세요.")
        % {"user": link.user.get_username()},
    )


def _unlink(message: Message, user: Any) -> Result:
    services.unlink_chat(message.chat_id)
    return Result(Outcome.OK, _("이 채팅의 연결을 해제했습니다."))


def _status(message: Message, user: Any) -> Result:
    return Result(Outcome.OK, replies.status())


def _positions(message: Message, user: Any) -> Result:
    return Result(Outcome.OK, replies.positions())


def _pnl(message: Message, user: Any) -> Result:
    return Result(Outcome.OK, replies.pnl())


def _start(message: Message, user: Any) -> Result:
    # Like POST /api/v1/system/start: a reason is required (a bare /start is also what Telegram sends
    # when a chat first opens the bot: it must not switch trading on).
    if not message.args:
        return Result(Outcome.INVALID, replies.start_usage())
    from apps.risk.services.gate import switch_set

    changed = switch_set(True, user=user, reason=f"Telegram: {message.args}")
    return Result(Outcome.OK, replies.switched(on=True, changed=changed))


def _stop(message: Message, user: Any) -> Result:
    from apps.risk.services.gate import switch_set

    reason = f"Telegram: {message.args}" if message.args else "Telegram stop"
    changed = switch_set(False, user=user, reason=reason)
    return Result(Outcome.OK, replies.switched(on=False, changed=changed))


def _flatten(message: Message, user: Any) -> Result:
    confirmation = services.confirmation_create(message.chat_id, user, "flatten", message.args)
    return Result(
        Outcome.PENDING, replies.flatten_ask(confirmation.code), f"confirmation {confirmation.pk}"
    )


def _confirm(message: Message, user: Any) -> Result:
    confirmation = services.confirmation_claim(message.chat_id, user, message.args)
    if confirmation is None:
        return Result(
            Outcome.INVALID,
            _("확인 코드가 맞지 않거나 만료되었습니다. 다시 /flatten 을 보내세요."),
            "bad or expired code",
        )
    from apps.risk.services.liquidation import liquidation_request

    reason = confirmation.reason or "비상 전체 청산"
    run, created = liquidation_request(user, f"Telegram: {reason}", f"telegram:{confirmation.pk}")
    return Result(Outcome.OK, replies.flatten_started(run, created), f"liquidation {run.id}")


# name → (handler, needs the trader role)
COMMANDS: dict[str, tuple[Handler, bool]] = {
    "status": (_status, False),
    "positions": (_positions, False),
    "pnl": (_pnl, False),
    "unlink": (_unlink, False),
    "start": (_start, True),
    "stop": (_stop, True),
    "flatten": (_flatten, True),
    "confirm": (_confirm, True),
}
