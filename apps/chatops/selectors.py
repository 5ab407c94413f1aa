"""Reads of the chat remote control."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from .models import BotCursor, ChatCommand, Outcome, TelegramLink


def links_for_user(user: Any) -> QuerySet[TelegramLink]:
    return TelegramLink.objects.filter(user=user)


def link_of_chat(chat_id: int) -> TelegramLink | None:
    return TelegramLink.objects.select_related("user").filter(chat_id=chat_id).first()


def cursor_of(bot: str) -> int:
    """The last update id taken (0: none yet)."""
    return BotCursor.objects.filter(pk=bot).values_list("last_update_id", flat=True).first() or 0


def failed_links(chat_id: int, window_seconds: int) -> int:
    """Refused `/link` attempts of a chat lately (a guessing chat is stopped before its code is read)."""
    since = timezone.now() - dt.timedelta(seconds=window_seconds)
    return ChatCommand.objects.filter(
        chat_id=chat_id, command="link", outcome=Outcome.INVALID, created_at__gte=since
    ).count()


def commands_for_user(user: Any, limit: int = 20) -> list[ChatCommand]:
    return list(ChatCommand.objects.filter(user=user)[:limit])
