"""Writes of the notifications app: ``notify()`` (the one entry point other apps call), sending one delivery,
the sweep of due deliveries, and the per-user channel settings.

Kinds other apps raise (``NotificationKind``): ``condition.entry``, ``condition.exit``, ``order.fill``,
``risk.halt``, ``report.daily``, ``system``.

Rules, per channel, applied when ``notify()`` plans a delivery:

- dedup: the same ``dedup_key`` within ``NOTIFY_DEDUP_WINDOW_SECONDS`` makes one notification, not two;
- quiet hours (KST, per channel): deliveries are *held*, not dropped — they join the channel's digest, which is
  sent when the quiet hours end, so the trader reads everything they missed in one message;
- throttling: once a channel has had ``NOTIFY_THROTTLE_MAX`` messages within ``NOTIFY_THROTTLE_WINDOW_SECONDS``
  (or its own ``min_interval_seconds`` has not passed since its last message), further deliveries join one
  digest sent ``NOTIFY_DIGEST_DELAY_SECONDS`` later (or when the min interval is over). Everything that
  arrives before the digest is claimed goes into that same digest: a burst becomes one message.

Condition alerts come in batches (``notify_condition_events``): each alert is deduplicated on its own, and
what is left of a batch is one notification — one message per channel — before the rules above apply.

Sending happens after commit, one Celery task per delivery; a delivery is claimed with a conditional UPDATE
(``pending`` → ``sending``) so two workers never send it twice. Failures are retried with exponential backoff
and jitter up to ``NOTIFY_MAX_ATTEMPTS``; one channel failing never delays another (separate tasks, bounded
timeouts).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.logging import redact
from apps.core.templatetags.stockagent import kst
from apps.notifications.alerts import ConditionAlert
from apps.notifications.backends import OutgoingMessage, SendError, get_backend
from apps.notifications.formatting import format_condition_alert, format_condition_batch
from apps.notifications.models import (
    DedupMark,
    Delivery,
    DeliveryStatus,
    HoldReason,
    Notification,
    NotificationChannel,
    NotificationKind,
)

logger = logging.getLogger(__name__)

TEST_TITLE = "테스트 메시지"
TEST_BODY = "StockAgent 알림 채널 테스트입니다. 이 메시지가 보이면 설정이 올바릅니다."


class NotifyError(ValueError):
    """A notify() call that cannot be made (unknown kind, empty title)."""


# --- notify ---------------------------------------------------------------------------------------------
def notify(
    kind: str,
    *,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    dedup_key: str | None = None,
    users: Iterable[AbstractBaseUser | int] | None = None,
) -> Notification | None:
    """Record a notification and one delivery per interested channel; sending starts after commit.

    ``users`` limits the recipients (default: every user with a channel subscribed to ``kind``). Returns
    ``None`` when ``dedup_key`` was already used within the dedup window (nothing is written then).
    """
    _check(kind, title)
    now = timezone.now()
    with transaction.atomic():
        if dedup_key and _is_duplicate(dedup_key, now):
            logger.debug("notification %s suppressed as duplicate", kind)
            return None
        notification = _record(kind, title, body, data, dedup_key, now)
        for channel in _recipient_channels((kind,), users):
            _plan_delivery(channel, notification, now)
    return notification


async def anotify(kind: str, **kwargs: Any) -> Notification | None:
    """``notify()`` for async code (the realtime process): the same transaction, run in Django's sync thread."""
    return await sync_to_async(notify, thread_sensitive=True)(kind, **kwargs)


def _check(kind: str, title: str) -> None:
    if kind not in NotificationKind.values:
        raise NotifyError(f"unknown notification kind: {kind}")
    if not title.strip():
        raise NotifyError("notification title is empty")


def _record(
    kind: str,
    title: str,
    body: str,
    data: dict[str, Any] | None,
    dedup_key: str | None,
    now: datetime,
) -> Notification:
    return Notification.objects.create(
        kind=kind,
        title=title[:200],
        body=body,
        data=data or {},
        dedup_key=(dedup_key or "")[:200],
        created_at=now,
    )


def _is_duplicate(key: str, now: datetime) -> bool:
    key = key[:200]
    mark, created = DedupMark.objects.get_or_create(key=key, defaults={"last_at": now})
    if created:
        return False
    mark = DedupMark.objects.select_for_update().get(pk=mark.pk)
    if now - mark.last_at < timedelta(seconds=settings.NOTIFY_DEDUP_WINDOW_SECONDS):
        return True
    mark.last_at = now
    mark.save(update_fields=["last_at"])
    return False


def _recipient_channels(
    kinds: Collection[str], users: Iterable[AbstractBaseUser | int] | None
) -> list[NotificationChannel]:
    """Enabled channels (of ``users``, default all active users) subscribed to any of ``kinds``, locked."""
    qs = NotificationChannel.objects.filter(enabled=True, user__is_active=True)
    if users is not None:
        ids = [u if isinstance(u, int) else u.pk for u in users]
        qs = qs.filter(user_id__in=ids)
    # Locked in id order: concurrent notify() calls plan each channel one at a time, without deadlocks.
    return [
        c
        for c in qs.select_for_update(of=("self",)).order_by("pk")
        if any(c.wants(k) for k in kinds)
    ]


def _plan_delivery(
    channel: NotificationChannel, notification: Notification, now: datetime
) -> Delivery:
    open_digest = (
        Delivery.objects.filter(channel=channel, is_digest=True, status=DeliveryStatus.PENDING)
        .order_by("pk")
        .first()
    )
    if channel.in_quiet_hours(now):
        release = channel.quiet_end_after(now)
        return _batch(channel, notification, now, open_digest, release, HoldReason.QUIET)
    if open_digest is not None:
        return _batch(
            channel, notification, now, open_digest, open_digest.send_after, HoldReason.THROTTLE
        )
    throttled_until = _throttled_until(channel, now)
    if throttled_until is not None:
        return _batch(channel, notification, now, None, throttled_until, HoldReason.THROTTLE)
    delivery = Delivery.objects.create(
        channel=channel, notification=notification, send_after=now, created_at=now
    )
    _enqueue_after_commit(delivery.pk, now)
    return delivery


def _throttled_until(channel: NotificationChannel, now: datetime) -> datetime | None:
    """When a digest may go out if the channel is over its message budget now; None if it is not."""
    messages = Delivery.objects.filter(channel=channel, digest__isnull=True)
    window_start = now - timedelta(seconds=settings.NOTIFY_THROTTLE_WINDOW_SECONDS)
    if messages.filter(created_at__gte=window_start).count() >= settings.NOTIFY_THROTTLE_MAX:
        return now + timedelta(seconds=settings.NOTIFY_DIGEST_DELAY_SECONDS)
    if channel.min_interval_seconds:
        interval = timedelta(seconds=channel.min_interval_seconds)
        last = messages.filter(created_at__gt=now - interval).order_by("-created_at").first()
        if last is not None:
            return last.created_at + interval
    return None


def _batch(
    channel: NotificationChannel,
    notification: Notification,
    now: datetime,
    digest: Delivery | None,
    release: datetime,
    reason: str,
) -> Delivery:
    if digest is None:
        digest = Delivery.objects.create(
            channel=channel, is_digest=True, hold_reason=reason, send_after=release, created_at=now
        )
        _enqueue_after_commit(digest.pk, release)
    elif release > digest.send_after or (
        reason == HoldReason.QUIET and digest.hold_reason != reason
    ):
        digest.send_after = max(release, digest.send_after)
        digest.hold_reason = reason
        digest.save(update_fields=["send_after", "hold_reason", "updated_at"])
        _enqueue_after_commit(digest.pk, digest.send_after)
    return Delivery.objects.create(
        channel=channel,
        notification=notification,
        digest=digest,
        status=DeliveryStatus.BATCHED,
        hold_reason=reason,
        send_after=digest.send_after,
        created_at=now,
    )


def _enqueue_after_commit(delivery_id: int, eta: datetime) -> None:
    """Queue the send once the rows are committed. Long holds (quiet hours) are left to the sweep: a
    broker holding an ETA task for hours would redeliver it."""
    from apps.notifications.tasks import send_delivery

    delay = (eta - timezone.now()).total_seconds()
    if delay > settings.NOTIFY_MAX_ETA_SECONDS:
        return

    def enqueue() -> None:
        if delay > 0:
            send_delivery.apply_async((delivery_id,), countdown=delay)
        else:
            send_delivery.delay(delivery_id)

    transaction.on_commit(enqueue)


# --- sending --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendOutcome:
    """What happened to one send attempt: ``sent``, ``failed``, ``retry`` (at ``retry_at``), ``deferred``
    (its channel is backing off; tried at ``retry_at`` without counting an attempt), ``cancelled`` or
    ``skipped`` (not pending, not due yet, or claimed by another worker)."""

    status: str
    retry_at: datetime | None = None


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: base·2^(n-1) capped, then a uniform draw in its upper half."""
    base = settings.NOTIFY_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    capped = min(base, settings.NOTIFY_RETRY_MAX_SECONDS)
    return (rng or random).uniform(capped / 2, capped)


def delivery_claim(delivery_id: int, now: datetime) -> bool:
    """pending → sending, if due. False means someone else has it, or it is not due or not pending.

    A digest is claimed under its channel's row lock, so a notify() adding to it either commits before the
    claim (and is sent in it) or sees it claimed and starts a new digest.
    """
    with transaction.atomic():
        row = Delivery.objects.filter(pk=delivery_id).values("channel_id", "is_digest").first()
        if row is None:
            return False
        if row["is_digest"]:
            list(NotificationChannel.objects.select_for_update().filter(pk=row["channel_id"]))
        claimed = Delivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, send_after__lte=now
        ).update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    return claimed == 1


def delivery_send(delivery_id: int) -> SendOutcome:
    """Claim one delivery, send it outside any transaction, record the outcome."""
    if not delivery_claim(delivery_id, timezone.now()):
        return SendOutcome("skipped")
    delivery = Delivery.objects.select_related("channel", "notification").get(pk=delivery_id)
    channel = delivery.channel
    is_test = bool(delivery.notification and delivery.notification.data.get("test"))
    if not channel.enabled and not is_test:
        _finish(delivery, DeliveryStatus.CANCELLED, "채널이 비활성화됨")
        return SendOutcome(DeliveryStatus.CANCELLED)
    backoff_until = _channel_backoff_until(delivery)
    if backoff_until is not None and not is_test:
        return _defer(delivery, backoff_until)
    message = delivery_message(delivery)
    if message is None:
        _finish(delivery, DeliveryStatus.CANCELLED, "보낼 알림 없음")
        return SendOutcome(DeliveryStatus.CANCELLED)
    try:
        get_backend(channel.kind).send(channel, message)
    except SendError as exc:
        return _record_failure(delivery, exc)
    except Exception as exc:  # a backend bug must not leave the delivery stuck in "sending"
        logger.exception(
            "notification backend %s crashed on delivery %s", channel.kind, delivery.pk
        )
        return _record_failure(delivery, SendError(f"internal error ({type(exc).__name__})"))
    _finish(delivery, DeliveryStatus.SENT, "")
    return SendOutcome(DeliveryStatus.SENT)


def _channel_backoff_until(delivery: Delivery) -> datetime | None:
    """If another delivery on the same channel failed and waits for its retry, the channel is backing off
    until then: a dead endpoint then costs one timeout per backoff step, not one per queued message (which
    would tie up worker slots that other channels need)."""
    now = timezone.now()
    return (
        Delivery.objects.filter(
            channel_id=delivery.channel_id,
            status=DeliveryStatus.PENDING,
            attempts__gt=0,
            send_after__gt=now,
        )
        .exclude(pk=delivery.pk)
        .order_by("-send_after")
        .values_list("send_after", flat=True)
        .first()
    )


def _defer(delivery: Delivery, until: datetime) -> SendOutcome:
    """Put a claimed delivery back without counting an attempt."""
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING,
        send_after=until,
        attempts=F("attempts") - 1,
        last_error="채널 재시도 대기 (channel backing off)",
    )
    return SendOutcome("deferred", until)


def _finish(delivery: Delivery, status: str, error: str) -> None:
    now = timezone.now()
    sent_at = now if status == DeliveryStatus.SENT else None
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=status, last_error=error[:300], sent_at=sent_at, updated_at=now
        )
        if delivery.is_digest:
            member_status = {
                DeliveryStatus.SENT: DeliveryStatus.DIGESTED,
                DeliveryStatus.FAILED: DeliveryStatus.FAILED,
            }.get(status, DeliveryStatus.CANCELLED)
            delivery.members.filter(status=DeliveryStatus.BATCHED).update(
                status=member_status, last_error=error[:300], sent_at=sent_at, updated_at=now
            )


def _record_failure(delivery: Delivery, exc: SendError) -> SendOutcome:
    channel = delivery.channel
    # Backends already keep secrets out of their errors; this is the second lock on the door.
    error = redact(str(exc), [s for s in (channel.secret,) if s])[:300]
    attempts = delivery.attempts
    if exc.retry and attempts < settings.NOTIFY_MAX_ATTEMPTS:
        retry_at = timezone.now() + timedelta(seconds=retry_delay(attempts))
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING, send_after=retry_at, last_error=error
        )
        logger.warning(
            "notification delivery %s (%s channel %s) failed, attempt %s/%s, retry at %s: %s",
            delivery.pk,
            channel.kind,
            channel.pk,
            attempts,
            settings.NOTIFY_MAX_ATTEMPTS,
            kst(retry_at),
            error,
        )
        return SendOutcome("retry", retry_at)
    _finish(delivery, DeliveryStatus.FAILED, error)
    logger.error(
        "notification delivery %s (%s channel %s) failed after %s attempt(s): %s",
        delivery.pk,
        channel.kind,
        channel.pk,
        attempts,
        error,
    )
    return SendOutcome(DeliveryStatus.FAILED)


def delivery_message(delivery: Delivery) -> OutgoingMessage | None:
    """The text a delivery sends: its notification, or for a digest, one line per batched notification."""
    if not delivery.is_digest:
        n = delivery.notification
        return OutgoingMessage(n.title, n.body) if n else None
    members = list(
        delivery.members.filter(status=DeliveryStatus.BATCHED)
        .select_related("notification")
        .order_by("created_at", "pk")
    )
    notes = [m.notification for m in members if m.notification is not None]
    if not notes:
        return None
    if len(notes) == 1:
        return OutgoingMessage(notes[0].title, notes[0].body)
    first, last = kst(notes[0].created_at, "%H:%M:%S"), kst(notes[-1].created_at, "%H:%M:%S")
    title = f"알림 요약 {len(notes)}건 ({first}–{last} KST)"
    why = (
        "방해 금지 시간 동안 보류된 알림입니다."
        if delivery.hold_reason == HoldReason.QUIET
        else "짧은 시간에 알림이 많아 한 번에 모아 보냅니다."
    )
    limit = settings.NOTIFY_DIGEST_MAX_LINES
    lines = [why] + [f"• {kst(n.created_at, '%H:%M:%S')} {n.title}" for n in notes[:limit]]
    if len(notes) > limit:
        lines.append(f"… 외 {len(notes) - limit}건")
    return OutgoingMessage(title, "\n".join(lines))


def delivery_reclaim_stale(now: datetime | None = None) -> int:
    """Deliveries left in ``sending`` by a worker that died (older than ``NOTIFY_STALE_SENDING_SECONDS``,
    well past the task's hard time limit) go back to ``pending`` for another attempt, or to ``failed``
    when out of attempts. Alerts are at-least-once: if the lost worker had in fact sent, the user sees the
    message twice, which beats never seeing it."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.NOTIFY_STALE_SENDING_SECONDS)
    stale = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
    note = "작업자 중단 (worker lost)"
    failed = stale.filter(attempts__gte=settings.NOTIFY_MAX_ATTEMPTS).update(
        status=DeliveryStatus.FAILED, last_error=note, updated_at=now
    )
    retried = stale.update(
        status=DeliveryStatus.PENDING, send_after=now, last_error=note, updated_at=now
    )
    if failed or retried:
        logger.warning("reclaimed %s stale deliveries (%s failed for good)", retried, failed)
    return failed + retried


def due_delivery_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries whose time has come (held digests after quiet hours, retries, lost tasks)."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, send_after__lte=now)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- condition alerts -----------------------------------------------------------------------------------
def notify_condition_events(
    alerts: Sequence[ConditionAlert],
    *,
    users: Iterable[AbstractBaseUser | int] | None = None,
) -> Notification | None:
    """Alerts reported together (one poll cycle of a condition, one coalesced realtime burst) → at most one
    message per channel.

    Each alert is deduplicated on its own key (``ConditionAlert.dedup_key``: condition, direction, code, KST
    minute) within ``NOTIFY_DEDUP_WINDOW_SECONDS``; the keys are checked and marked in one transaction (in
    key order, so concurrent batches never deadlock). What is left: none → ``None``; one → the same
    notification ``notify_condition_event`` makes; two or more → one ``condition.entry`` notification
    (``condition.exit`` if every alert is an exit) titled ``[조건검색] 급등주 편입 48종목 · 이탈 2종목``,
    one body line per stock (capped at ``NOTIFY_DIGEST_MAX_LINES``, then ``… 외 N종목``), and
    ``data["alerts"]`` listing every alert. It is then planned per channel like any ``notify()``
    (throttle, min interval and quiet hours apply across batches).

    A mixed batch goes in full to channels subscribed to both kinds; a channel subscribed to only one of
    them gets its own notification with just those alerts (still one message).
    """
    return _notify_condition_alerts([(a, a.dedup_key) for a in alerts], users)


async def anotify_condition_events(
    alerts: Sequence[ConditionAlert],
    *,
    users: Iterable[AbstractBaseUser | int] | None = None,
) -> Notification | None:
    """``notify_condition_events()`` for async code (the realtime process)."""
    return await sync_to_async(notify_condition_events, thread_sensitive=True)(alerts, users=users)


def notify_condition_event(
    *,
    entered: bool,
    condition_seq: str,
    condition_name: str,
    stock_name: str,
    code: str,
    price: int | None,
    change_rate: Decimal | None,
    at: datetime,
    users: Iterable[AbstractBaseUser | int] | None = None,
    dedup_key: str | None = None,
) -> Notification | None:
    """One ``condition.entry`` / ``condition.exit`` with the standard Korean text: a batch of one
    (``notify_condition_events``). By default the dedup key is the condition, code, direction and KST
    minute, so the realtime and poll paths reporting the same entry make one alert."""
    alert = ConditionAlert(
        entered=entered,
        condition_seq=condition_seq,
        condition_name=condition_name,
        code=code,
        stock_name=stock_name,
        price=price,
        change_rate=change_rate,
        at=at,
    )
    return _notify_condition_alerts([(alert, dedup_key or alert.dedup_key)], users)


def _notify_condition_alerts(
    keyed: Sequence[tuple[ConditionAlert, str]],
    users: Iterable[AbstractBaseUser | int] | None,
) -> Notification | None:
    if not keyed:
        return None
    now = timezone.now()
    with transaction.atomic():
        # Marks are taken in key order (no deadlock between two batches sharing keys); a key repeated
        # inside the batch finds its own fresh mark and is dropped like any duplicate.
        order = sorted(range(len(keyed)), key=lambda i: keyed[i][1][:200])
        fresh = {i for i in order if not _is_duplicate(keyed[i][1], now)}
        kept = [keyed[i] for i in range(len(keyed)) if i in fresh]
        if len(kept) < len(keyed):
            logger.debug("%s condition alert(s) suppressed as duplicates", len(keyed) - len(kept))
        if not kept:
            return None
        alerts = [a for a, _ in kept]
        kinds = list(dict.fromkeys(a.kind for a in alerts))
        main = _record_condition_alerts(kept, now)
        partial: dict[str, Notification] = {}
        for channel in _recipient_channels(kinds, users):
            wanted = [k for k in kinds if channel.wants(k)]
            if len(wanted) == len(kinds):
                _plan_delivery(channel, main, now)
                continue
            (only,) = wanted  # a mixed batch, this channel wants just one of the two kinds
            if only not in partial:
                partial[only] = _record_condition_alerts(
                    [(a, key) for a, key in kept if a.kind == only], now
                )
            _plan_delivery(channel, partial[only], now)
    return main


def _record_condition_alerts(
    kept: Sequence[tuple[ConditionAlert, str]], now: datetime
) -> Notification:
    if len(kept) == 1:
        alert, key = kept[0]
        title, body = format_condition_alert(alert)
        data: dict[str, Any] = {
            "condition_seq": alert.condition_seq,
            "condition_name": alert.condition_name,
            "code": alert.code,
            "name": alert.stock_name,
            "price": alert.price,
            "change_rate": None if alert.change_rate is None else str(alert.change_rate),
            "at": alert.at.isoformat(),
        }
        return _record(alert.kind, title, body, data, key, now)
    alerts = [a for a, _ in kept]
    title, body = format_condition_batch(alerts, settings.NOTIFY_DIGEST_MAX_LINES)
    entries = sum(1 for a in alerts if a.entered)
    kind = NotificationKind.CONDITION_ENTRY if entries else NotificationKind.CONDITION_EXIT
    data = {
        "batch": True,
        "count": len(alerts),
        "entries": entries,
        "exits": len(alerts) - entries,
        "alerts": [a.as_data() for a in alerts],
    }
    return _record(kind, title, body, data, None, now)


# --- channel settings -----------------------------------------------------------------------------------
EDITABLE_FIELDS = (
    "kind",
    "name",
    "target",
    "secret",
    "enabled",
    "event_kinds",
    "quiet_start",
    "quiet_end",
    "min_interval_seconds",
)


def channel_save(channel: NotificationChannel) -> NotificationChannel:
    """Validate (raises ``django.core.exceptions.ValidationError``, nothing saved) and save."""
    channel.full_clean()
    with transaction.atomic():
        channel.save()
    return channel


def channel_create(user: AbstractBaseUser, **fields: Any) -> NotificationChannel:
    channel = NotificationChannel(user=user)
    return channel_update(channel, **fields)


def channel_update(channel: NotificationChannel, **fields: Any) -> NotificationChannel:
    """Apply ``fields``; an empty or missing ``secret`` keeps the stored one (secrets are write-only)."""
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"not editable: {name}")
        if name == "secret" and not value:
            continue
        setattr(channel, name, value)
    return channel_save(channel)


def channel_delete(channel: NotificationChannel) -> None:
    channel.delete()


def channel_send_test(channel: NotificationChannel) -> Delivery:
    """A test message to this one channel, now: no quiet hours, throttle or subscription filter."""
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.create(
            kind=NotificationKind.SYSTEM,
            title=TEST_TITLE,
            body=TEST_BODY,
            data={"test": True},
            created_at=now,
        )
        delivery = Delivery.objects.create(
            channel=channel, notification=notification, send_after=now, created_at=now
        )
        _enqueue_after_commit(delivery.pk, now)
    return delivery
