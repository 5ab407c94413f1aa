"""Writes of the chat remote control: link codes, links, confirmations, the poller's cursor and journal.

A link code is shown once on the web and stored as its SHA-256 digest; it is claimed with a conditional
UPDATE (unused, unexpired), so two chats racing with the same code link one of them. A confirmation code
is claimed the same way: a `/confirm` sent twice starts one liquidation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .conf import setting
from .models import BotCursor, ChatCommand, Confirmation, LinkCode, TelegramLink

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed from a screen
CODE_LENGTH = 8


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def link_code_issue(user: Any) -> tuple[str, dt.datetime]:
    """A new one-time code for `user` (their older unused codes stop working). Returns (code, expiry)."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = timezone.now() + dt.timedelta(seconds=setting("TELEGRAM_LINK_CODE_SECONDS"))
    with transaction.atomic():
        LinkCode.objects.filter(user=user, used_at__isnull=True).delete()
        LinkCode.objects.create(user=user, digest=_digest(code), expires_at=expires)
    return code, expires


def link_chat(code: str, chat_id: int, chat_name: str = "") -> TelegramLink | None:
    """Link the chat to the code's user; None when the code is unknown, used or expired."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            LinkCode.objects.select_for_update()
            .filter(digest=_digest(code), used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if row is None:
            return None
        claimed = LinkCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now)
        if not claimed or not row.user.is_active:
            return None
        link, _ = TelegramLink.objects.update_or_create(
            chat_id=chat_id, defaults={"user": row.user, "chat_name": chat_name[:100]}
        )
    return link


def link_delete(user: Any, pk: int) -> bool:
    """The web's unlink: the user's own link only."""
    deleted, _ = TelegramLink.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)


def unlink_chat(chat_id: int) -> bool:
    deleted, _ = TelegramLink.objects.filter(chat_id=chat_id).delete()
    return bool(deleted)


def confirmation_create(chat_id: int, user: Any, action: str, reason: str = "") -> Confirmation:
    """A dangerous command's confirmation code (6 digits); older pending ones of the chat lapse."""
    now = timezone.now()
    with transaction.atomic():
        Confirmation.objects.filter(chat_id=chat_id, used_at__isnull=True).update(used_at=now)
        return Confirmation.objects.create(
            chat_id=chat_id,
            user=user,
            action=action,
            code=f"{secrets.randbelow(10**6):06d}",
            reason=reason[:200],
            expires_at=now + dt.timedelta(seconds=setting("TELEGRAM_CONFIRM_SECONDS")),
        )


def confirmation_claim(chat_id: int, user: Any, code: str) -> Confirmation | None:
    """The pending confirmation with this code, claimed once; None when wrong, used or expired."""
    now = timezone.now()
    row = Confirmation.objects.filter(
        chat_id=chat_id, user=user, code=code.strip(), used_at__isnull=True, expires_at__gt=now
    ).first()
    if row is None:
        return None
    if not Confirmation.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        return None
    return row


def command_claim(bot: str, update_id: int, **fields: Any) -> ChatCommand | None:
    """Journal an update and move the cursor past it, in one transaction; None when this update was
    taken before (a restart that got it again), so it is never run twice."""
    try:
        with transaction.atomic():
            row = ChatCommand.objects.create(bot_id=bot, update_id=update_id, **fields)
            cursor_advance(bot, update_id)
    except IntegrityError:
        cursor_advance(bot, update_id)
        return None
    return row


def cursor_advance(bot: str, update_id: int) -> None:
    cursor, _ = BotCursor.objects.get_or_create(bot_id=bot)
    BotCursor.objects.filter(pk=cursor.pk, last_update_id__lt=update_id).update(
        last_update_id=update_id, updated_at=timezone.now()
    )


def command_finish(row: ChatCommand, outcome: str, reply: str, detail: str = "") -> None:
    row.outcome, row.reply, row.detail = outcome, reply, detail[:300]
    row.save(update_fields=["outcome", "reply", "detail"])
