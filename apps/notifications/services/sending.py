"""Sending: one delivery claimed (``pending`` → ``sending`` by conditional UPDATE, so two workers never
send it twice), sent outside any transaction, and its outcome recorded; the sweep's helpers (due deliveries,
deliveries left behind by a dead worker).

Failures are retried with exponential backoff and jitter up to ``NOTIFY_MAX_ATTEMPTS``; one channel failing
never delays another (separate tasks, bounded timeouts, a failing channel backs off as a whole).

An *interrupted* send — its worker died while the delivery was ``sending``, or the request went out and no
reply came (a read timeout, a dropped connection) — may or may not have reached the receiver. What happens
next depends on whether the receiver can recognise a repeat (``RESENDABLE``):

- email carries a Message-ID made from the delivery (``delivery_key``), the same on every attempt, so mail
  servers and clients collapse a repeat: it is sent again (at-least-once, deduplicable); the console channel
  only writes a log line and is sent again too;
- Slack incoming webhooks and Telegram's ``sendMessage`` take no idempotency key: the delivery is marked
  ``unknown`` ("전송 불확실") in the delivery log and never re-sent by itself (at-most-once). A send refused
  before it could be delivered (connection refused or timed out, HTTP 429/5xx) is still retried.

A dead worker's sends are found when a worker of the same node name starts again (``deliveries_orphaned``,
from the ``worker_ready`` signal) and, for a worker that never comes back, by the sweep after
``NOTIFY_STALE_SENDING_SECONDS`` (``delivery_reclaim_stale``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.core.logging import redact
from apps.core.templatetags.stockagent import kst
from apps.notifications.attachments import attachments_load
from apps.notifications.backends import OutgoingMessage, SendError, get_backend
from apps.notifications.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    HoldReason,
    NotificationChannel,
)

logger = logging.getLogger(__name__)

# Channels whose receiver recognises a repeated message (see the module docstring).
RESENDABLE = frozenset({ChannelKind.EMAIL, ChannelKind.CONSOLE})
NOTE_WORKER_LOST = "작업자 중단 (worker lost)"
NOTE_UNKNOWN = "전송 여부 불명, 다시 보내지 않음 (may have been delivered; not re-sent)"


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


def delivery_key(delivery: Delivery) -> str:
    """The delivery's own key, the same on every attempt (an email's Message-ID is made from it): the row
    id plus its creation time, so two installations never make the same key."""
    return f"delivery-{delivery.pk}.{int(delivery.created_at.timestamp() * 1_000_000)}"


def delivery_claim(delivery_id: int, now: datetime, worker: str = "") -> bool:
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
        ).update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            claimed_at=now,
            claimed_by=worker[:200],
        )
    return claimed == 1


def delivery_send(delivery_id: int, worker: str = "") -> SendOutcome:
    """Claim one delivery, send it outside any transaction, record the outcome. `worker` names the
    Celery worker (node name) making the claim, so a restarted worker can settle what its previous life
    left half-sent."""
    if not delivery_claim(delivery_id, timezone.now(), worker):
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
                DeliveryStatus.UNKNOWN: DeliveryStatus.UNKNOWN,
            }.get(status, DeliveryStatus.CANCELLED)
            delivery.members.filter(status=DeliveryStatus.BATCHED).update(
                status=member_status, last_error=error[:300], sent_at=sent_at, updated_at=now
            )


def _record_failure(delivery: Delivery, exc: SendError) -> SendOutcome:
    channel = delivery.channel
    # Backends already keep secrets out of their errors; this is the second lock on the door.
    error = redact(str(exc), [s for s in (channel.secret,) if s])[:300]
    attempts = delivery.attempts
    if exc.maybe_delivered and channel.kind not in RESENDABLE:
        _finish(delivery, DeliveryStatus.UNKNOWN, f"{error}: {NOTE_UNKNOWN}")
        logger.warning(
            "notification delivery %s (%s channel %s) may have been delivered (%s); not re-sent",
            delivery.pk,
            channel.kind,
            channel.pk,
            error,
        )
        return SendOutcome(DeliveryStatus.UNKNOWN)
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
    key = delivery_key(delivery)
    if not delivery.is_digest:
        n = delivery.notification
        if n is None:
            return None
        return OutgoingMessage(n.title, n.body, key=key, attachments=attachments_load(n.data))
    members = list(
        delivery.members.filter(status=DeliveryStatus.BATCHED)
        .select_related("notification")
        .order_by("created_at", "pk")
    )
    notes = [m.notification for m in members if m.notification is not None]
    if not notes:
        return None
    if len(notes) == 1:
        return OutgoingMessage(notes[0].title, notes[0].body, key=key)
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
    return OutgoingMessage(title, "\n".join(lines), key=key)


@dataclass(frozen=True)
class Settled:
    """Interrupted sends settled: ids queued again (now due), failed for good, left unknown."""

    requeued: list[int]
    failed: int
    unknown: int


def deliveries_interrupted(qs: QuerySet[Delivery], note: str, now: datetime) -> Settled:
    """Settle sends left in ``sending`` by a dead worker: due again where the receiver can recognise a
    repeat (``RESENDABLE``; ``failed`` when out of attempts), ``unknown`` elsewhere."""
    qs = qs.filter(status=DeliveryStatus.SENDING)
    with transaction.atomic():
        again = qs.filter(channel__kind__in=RESENDABLE)
        failed = again.filter(attempts__gte=settings.NOTIFY_MAX_ATTEMPTS).update(
            status=DeliveryStatus.FAILED, last_error=note, updated_at=now
        )
        requeued = list(again.values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=requeued).update(
            status=DeliveryStatus.PENDING, send_after=now, last_error=note, updated_at=now
        )
        unsure = list(qs.exclude(channel__kind__in=RESENDABLE).values_list("pk", flat=True))
        error = f"{note}: {NOTE_UNKNOWN}"[:300]
        Delivery.objects.filter(pk__in=unsure).update(
            status=DeliveryStatus.UNKNOWN, last_error=error, updated_at=now
        )
        Delivery.objects.filter(digest_id__in=unsure, status=DeliveryStatus.BATCHED).update(
            status=DeliveryStatus.UNKNOWN, last_error=error, updated_at=now
        )
    if failed or requeued or unsure:
        logger.warning(
            "%s: %s send(s) due again, %s failed for good, %s left unknown (not re-sent)",
            note,
            len(requeued),
            failed,
            len(unsure),
        )
    return Settled(requeued, failed, len(unsure))


def deliveries_orphaned(worker: str, booted_at: datetime) -> Settled:
    """At a worker's start: the sends its previous life (same node name) claimed and never finished."""
    if not worker:
        return Settled([], 0, 0)
    qs = Delivery.objects.filter(claimed_by=worker[:200], claimed_at__lt=booted_at)
    return deliveries_interrupted(qs, NOTE_WORKER_LOST, timezone.now())


def delivery_reclaim_stale(now: datetime | None = None) -> int:
    """Sends left in ``sending`` longer than ``NOTIFY_STALE_SENDING_SECONDS`` (well past the task's hard
    time limit: their worker is gone and did not come back) are settled like a restarted worker's."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.NOTIFY_STALE_SENDING_SECONDS)
    stale = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff)
    settled = deliveries_interrupted(stale, NOTE_WORKER_LOST, now)
    return len(settled.requeued) + settled.failed + settled.unknown


def due_delivery_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries whose time has come (held digests after quiet hours, retries, lost tasks)."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, send_after__lte=now)
        .order_by("send_after", "pk")
        .values_list("pk", flat=True)[:limit]
    )
