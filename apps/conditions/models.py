"""Condition searches (조건검색) and their monitoring history.

- `Condition`: one HTS condition, synced from CNSRLST, with the trader's switches.
- `ConditionRun`: one check of one condition (the 30-second poll, "search now", or the initial list of a
  realtime subscription), with the member codes it saw: the snapshot history.
- `ConditionMember`: the current membership per (condition, code). Entry and exit are transitions of
  `is_member`, made under a lock on the condition row, so an entry is recorded once whichever path (poll
  or realtime) sees it first. `changed_at` lets a poll skip codes that realtime changed after the poll's
  request went out.
- `ConditionEvent`: one entry or exit, with price and change when known, where the price came from and the
  path that saw it. Unique on (condition, code, kind, exchange time): a frame or a poll replayed after the
  exchange's clock moved backwards records nothing new.

Alert debounce: a condition's `alert_hold_seconds` makes its alerts follow only changes that last. Each
member keeps `state_at` (exchange time of its last transition) and `alerted` (the membership its last alert
— or its silent baseline — told the trader). A member whose `is_member` differs from `alerted` for at least
the hold time is alerted then (`services.alerts_release`); a stock that enters and leaves within the hold is
never alerted at all.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    ENTRY = "entry", _("편입")
    EXIT = "exit", _("이탈")


class Source(models.TextChoices):
    POLL = "poll", _("주기 점검")
    REALTIME = "realtime", _("실시간")
    MANUAL = "manual", _("수동 검색")


class PriceSource(models.TextChoices):
    """Where an event's price came from (the price at the event, as close as we can know it)."""

    TICK = "tick", _("체결(0B)")
    QUOTE = "quote", _("시세 조회")
    SEARCH = "search", _("검색 결과")
    MEMBER = "member", _("직전 시세")
    NONE = "", _("없음")


class Condition(models.Model):
    account = models.CharField(
        _("계좌"), max_length=20, blank=True, help_text=_("조건식을 가진 키움 로그인/계좌")
    )
    seq = models.CharField(_("일련번호"), max_length=8)
    name = models.CharField(_("조건식 이름"), max_length=100)
    active = models.BooleanField(_("감시"), default=True, help_text=_("30초 점검에 포함"))
    realtime = models.BooleanField(_("실시간"), default=False, help_text=_("실시간 편입/이탈 구독"))
    notify_entry = models.BooleanField(_("편입 알림"), default=True)
    notify_exit = models.BooleanField(_("이탈 알림"), default=False)
    alert_hold_seconds = models.PositiveIntegerField(
        _("알림 최소 유지(초)"),
        default=0,
        validators=[MaxValueValidator(3600)],
        help_text=_(
            "편입/이탈이 이 시간 이상 유지될 때만 알림 (0: 즉시). 들락날락하는 종목의 알림을 막습니다"
        ),
    )
    listed = models.BooleanField(
        _("HTS에 있음"), default=True, help_text=_("마지막 목록 동기화에 있었는지")
    )
    member_count = models.IntegerField(_("편입 종목 수"), default=0)
    baseline_at = models.DateTimeField(
        _("기준 스냅샷"),
        null=True,
        blank=True,
        help_text=_("비어 있으면 다음 점검은 알림 없이 현재 종목을 기준으로 기록합니다"),
    )
    last_checked_at = models.DateTimeField(_("마지막 점검"), null=True, blank=True)
    last_error = models.TextField(_("마지막 오류"), blank=True)
    synced_at = models.DateTimeField(_("동기화"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["account", "seq"], name="conditions_condition_uniq"),
        ]
        verbose_name = _("조건검색식")
        verbose_name_plural = _("조건검색식")

    def __str__(self) -> str:
        return f"[{self.seq}] {self.name}"


class ConditionRun(models.Model):
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="runs")
    source = models.CharField(max_length=10, choices=Source.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    member_count = models.IntegerField(null=True, blank=True)
    members = models.JSONField(default=list, blank=True, help_text="member codes seen")
    entries = models.IntegerField(default=0)
    exits = models.IntegerField(default=0)
    baseline = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["condition", "-started_at"])]
        verbose_name = _("점검 기록")
        verbose_name_plural = _("점검 기록")

    def __str__(self) -> str:
        return f"{self.condition_id} {self.source} {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def ok(self) -> bool:
        return not self.error and self.finished_at is not None


class ConditionMember(models.Model):
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="memberships")
    code = models.CharField(max_length=6)
    name = models.CharField(max_length=100, blank=True)
    is_member = models.BooleanField(default=True)
    price = models.BigIntegerField(null=True, blank=True)
    change = models.BigIntegerField(null=True, blank=True, help_text="전일대비, KRW")
    change_rate = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    volume = models.BigIntegerField(null=True, blank=True)
    entered_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(help_text="last entry/exit transition (or baseline)")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    state_at = models.DateTimeField(
        null=True, blank=True, help_text="exchange time of the last transition (or baseline)"
    )
    alerted = models.BooleanField(
        null=True, blank=True, help_text="membership as last alerted (or baselined); null: never"
    )

    class Meta:
        ordering = ["condition", "code"]
        constraints = [
            models.UniqueConstraint(fields=["condition", "code"], name="conditions_member_uniq"),
        ]
        indexes = [models.Index(fields=["condition", "is_member"])]
        verbose_name = _("편입 종목")
        verbose_name_plural = _("편입 종목")

    def __str__(self) -> str:
        return f"{self.condition_id} {self.code} {'in' if self.is_member else 'out'}"


class ConditionEvent(models.Model):
    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="events")
    code = models.CharField(_("종목코드"), max_length=6)
    name = models.CharField(_("종목명"), max_length=100, blank=True)
    kind = models.CharField(_("구분"), max_length=5, choices=EventKind.choices)
    at = models.DateTimeField(_("시각"), help_text=_("거래소 시각 (실시간 프레임 또는 점검 시각)"))
    recorded_at = models.DateTimeField(_("기록"))
    price = models.BigIntegerField(_("현재가"), null=True, blank=True)
    change = models.BigIntegerField(_("전일대비"), null=True, blank=True)
    change_rate = models.DecimalField(
        _("등락률"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    price_source = models.CharField(
        _("가격 출처"), max_length=8, choices=PriceSource.choices, blank=True, default=""
    )
    source = models.CharField(_("경로"), max_length=10, choices=Source.choices)
    run = models.ForeignKey(
        ConditionRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["condition", "code", "kind", "at"], name="conditions_event_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["condition", "-at"]),
            models.Index(fields=["code", "-at"]),
            models.Index(fields=["-at"]),
        ]
        verbose_name = _("편입/이탈")
        verbose_name_plural = _("편입/이탈")

    def __str__(self) -> str:
        return f"{self.condition_id} {self.code} {self.kind} {self.at:%H:%M:%S}"
