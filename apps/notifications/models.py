"""Notifications: per-user channels, the notifications other apps raise, and one delivery row per channel.

A ``Notification`` is what happened (kind, Korean title/body, data). A ``Delivery`` is one attempt to tell one
channel about it, with its status, attempts and last (secret-free) error: the delivery log. ``unknown`` is a
send that was interrupted after it may have reached the receiver (its worker died mid-send, or the reply
never came) on a channel that has no receiver-side dedupe key: it is shown, never re-sent by itself. A digest is a
``Delivery`` with ``is_digest`` set that carries every delivery batched into it (throttling, quiet hours).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, MaxValueValidator, URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField
from krx import KST


class NotificationKind(models.TextChoices):
    CONDITION_ENTRY = "condition.entry", _("조건 편입")
    CONDITION_EXIT = "condition.exit", _("조건 이탈")
    ORDER_FILL = "order.fill", _("주문 체결")
    RISK_HALT = "risk.halt", _("리스크 중단")
    REPORT_DAILY = "report.daily", _("일일 리포트")
    SYSTEM = "system", _("시스템")


class ChannelKind(models.TextChoices):
    CONSOLE = "console", _("콘솔(로그)")
    SLACK = "slack", _("Slack")
    EMAIL = "email", _("이메일")
    TELEGRAM = "telegram", _("Telegram")


class NotificationChannel(models.Model):
    """Where one user wants to hear about which kinds of events, and when not to be disturbed.

    ``target`` is the non-secret address (email address, Telegram chat id); ``secret`` is encrypted at rest
    (Slack incoming-webhook URL, Telegram bot token) and never leaves the server again.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels"
    )
    kind = models.CharField(_("종류"), max_length=16, choices=ChannelKind.choices)
    name = models.CharField(_("이름"), max_length=80, blank=True)
    target = models.CharField(
        _("대상"), max_length=254, blank=True, help_text=_("이메일 주소 또는 Telegram chat id")
    )
    secret = EncryptedTextField(
        _("비밀값"), blank=True, default="", help_text=_("Slack 웹훅 URL 또는 Telegram 봇 토큰")
    )
    enabled = models.BooleanField(_("사용"), default=True)
    event_kinds = models.JSONField(
        _("알림 종류"), default=list, blank=True, help_text=_("비워두면 모든 종류")
    )
    quiet_start = models.TimeField(_("방해 금지 시작(KST)"), null=True, blank=True)
    quiet_end = models.TimeField(_("방해 금지 종료(KST)"), null=True, blank=True)
    min_interval_seconds = models.PositiveIntegerField(
        _("최소 간격(초)"), default=0, validators=[MaxValueValidator(86400)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_id", "id"]
        verbose_name = _("알림 채널")
        verbose_name_plural = _("알림 채널")

    def __str__(self) -> str:
        return f"{self.user_id}:{self.kind}:{self.name or self.pk}"

    # --- rules ------------------------------------------------------------------------------------------
    def clean(self) -> None:
        errors: dict[str, str] = {}
        secret_field = "secret"  # noqa: S105 - a field name, not a secret value
        if self.kind == ChannelKind.SLACK:
            if not self.secret:
                errors[secret_field] = "Slack 웹훅 URL을 입력하세요."
            else:
                from apps.notifications.backends.egress import url_problem

                try:
                    URLValidator(schemes=["http", "https"])(self.secret)
                except ValidationError:
                    errors[secret_field] = "Slack 웹훅 URL 형식이 올바르지 않습니다."
                else:
                    if url_problem(self.secret, settings.NOTIFY_SLACK_HOSTS):
                        hosts = ", ".join(settings.NOTIFY_SLACK_HOSTS)
                        errors[secret_field] = (
                            f"Slack 웹훅은 https://{hosts}/… 주소만 쓸 수 있습니다."
                        )
        elif self.kind == ChannelKind.EMAIL:
            try:
                EmailValidator()(self.target)
            except ValidationError:
                errors["target"] = "올바른 이메일 주소를 입력하세요."
        elif self.kind == ChannelKind.TELEGRAM:
            if not self.target:
                errors["target"] = "Telegram chat id를 입력하세요."
            if not self.secret or ":" not in self.secret or " " in self.secret:
                errors[secret_field] = "Telegram 봇 토큰 형식이 올바르지 않습니다 (숫자:문자열)."
        unknown = set(self.event_kinds or []) - set(NotificationKind.values)
        if not isinstance(self.event_kinds, list) or unknown:
            errors["event_kinds"] = "알 수 없는 알림 종류입니다."
        if (self.quiet_start is None) != (self.quiet_end is None):
            errors["quiet_end"] = "방해 금지 시작과 종료를 함께 입력하세요."
        elif self.quiet_start is not None and self.quiet_start == self.quiet_end:
            errors["quiet_end"] = "방해 금지 시작과 종료가 같을 수 없습니다."
        if errors:
            raise ValidationError(errors)

    def wants(self, kind: str) -> bool:
        return self.enabled and (not self.event_kinds or kind in self.event_kinds)

    def in_quiet_hours(self, at: datetime) -> bool:
        if self.quiet_start is None or self.quiet_end is None:
            return False
        t = at.astimezone(KST).time()
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= t < self.quiet_end
        return t >= self.quiet_start or t < self.quiet_end  # the window wraps midnight

    def quiet_end_after(self, at: datetime) -> datetime:
        """The next moment (aware, UTC) the quiet hours end after ``at``."""
        assert self.quiet_end is not None
        local = at.astimezone(KST)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=KST)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(ZoneInfo("UTC"))


class Notification(models.Model):
    """Something worth telling users about, raised once through ``services.notify``."""

    kind = models.CharField(max_length=32, choices=NotificationKind.choices, db_index=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    dedup_key = models.CharField(max_length=200, blank=True, db_index=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("알림")
        verbose_name_plural = _("알림")

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"


class DedupMark(models.Model):
    """The last time a dedup key was let through; its row lock serialises concurrent notify() calls."""

    key = models.CharField(max_length=200, unique=True)
    last_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.key


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("대기")
    SENDING = "sending", _("전송 중")
    SENT = "sent", _("전송됨")
    FAILED = "failed", _("실패")
    BATCHED = "batched", _("요약 대기")
    DIGESTED = "digested", _("요약으로 전송됨")
    CANCELLED = "cancelled", _("취소됨")
    UNKNOWN = "unknown", _("전송 불확실")  # may have reached the receiver; never re-sent by itself


class HoldReason(models.TextChoices):
    NONE = "", _("없음")
    QUIET = "quiet", _("방해 금지 시간")
    THROTTLE = "throttle", _("전송량 제한")


class Delivery(models.Model):
    """One message to one channel: a single notification, or a digest of the batched ones."""

    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="deliveries"
    )
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    is_digest = models.BooleanField(default=False)
    digest = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    hold_reason = models.CharField(
        max_length=16, choices=HoldReason.choices, default=HoldReason.NONE, blank=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    send_after = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(
        max_length=200, blank=True, help_text="the Celery worker (node name) that claimed the send"
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("전송 기록")
        verbose_name_plural = _("전송 기록")
        indexes = [models.Index(fields=["channel", "status", "created_at"])]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"

    @property
    def kind(self) -> str:
        return self.notification.kind if self.notification_id else "digest"
