"""Remote control from chat (issue #17): the Telegram chats linked to users, the one-time link codes, the
pending confirmations of dangerous commands, the poller's cursor, and the journal of every command."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TelegramLink(models.Model):
    """A private Telegram chat that speaks for a user (linked with a one-time code from the web)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_links"
    )
    chat_id = models.BigIntegerField(unique=True)
    chat_name = models.CharField(max_length=100, blank=True)  # the Telegram @username or name shown
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-linked_at"]
        verbose_name = _("텔레그램 연결")
        verbose_name_plural = _("텔레그램 연결")

    def __str__(self) -> str:
        return f"{self.user} ↔ {self.chat_id}"


class LinkCode(models.Model):
    """A one-time code a logged-in user got on the web; stored only as its SHA-256 digest."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class Confirmation(models.Model):
    """A dangerous command waiting for its confirmation code (single use, short-lived)."""

    chat_id = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=20)
    code = models.CharField(max_length=12)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["chat_id", "code"])]


class BotCursor(models.Model):
    """The last update id the poller took, per bot (the numeric id before the token's colon): a restart
    asks getUpdates from the next one, so no command runs twice."""

    bot_id = models.CharField(max_length=32, primary_key=True)
    last_update_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class Outcome(models.TextChoices):
    RECEIVED = "received", _("받음")
    OK = "ok", _("완료")
    PENDING = "pending", _("확인 대기")
    REFUSED = "refused", _("거부 (연결 안 됨)")
    DENIED = "denied", _("거부 (권한 없음)")
    INVALID = "invalid", _("잘못된 명령")
    FAILED = "failed", _("실패")


class ChatCommand(models.Model):
    """The journal: every message the bot took, who sent it, what was done and what was answered."""

    bot_id = models.CharField(max_length=32)
    update_id = models.BigIntegerField()
    chat_id = models.BigIntegerField(db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender = models.CharField(max_length=100, blank=True)  # the Telegram @username or name
    command = models.CharField(max_length=32)
    args = models.CharField(max_length=200, blank=True)  # codes are masked
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    detail = models.CharField(max_length=300, blank=True)
    reply = models.TextField(blank=True)
    reply_sent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["bot_id", "update_id"], name="chatcommand_update_once")
        ]
        verbose_name = _("채팅 명령")
        verbose_name_plural = _("채팅 명령")

    def __str__(self) -> str:
        return f"{self.command} {self.args}".strip()
