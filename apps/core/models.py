"""System-level state: component health, runtime switches and their audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

# The seeded switches' descriptions (migration core.0002 stores the Korean text); marked here so the
# catalogue carries them and the pages show them translated ({% translate flag.description %}).
FLAG_DESCRIPTIONS = {
    "trading-enabled": gettext_noop("자동매매 주문 허용 (끄면 신규 주문을 내지 않음)"),
}


class Component(models.TextChoices):
    DATABASE = "database", _("데이터베이스")
    REDIS = "redis", _("Redis")
    WORKER = "worker", _("Celery 워커")
    BEAT = "beat", _("Celery beat")
    REALTIME = "realtime", _("실시간 프로세스")
    BROKER = "broker", _("브로커")
    SIMULATOR = "simulator", _("모의 거래소")


class HealthStatus(models.TextChoices):
    OK = "ok", _("정상")
    DEGRADED = "degraded", _("지연")
    DOWN = "down", _("중단")
    UNKNOWN = "unknown", _("알 수 없음")


class SystemStatus(models.Model):
    """The last word each component reported about itself (one row per component)."""

    component = models.CharField(max_length=32, choices=Component.choices, unique=True)
    status = models.CharField(
        max_length=16, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN
    )
    message = models.CharField(max_length=500, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    data_count = models.BigIntegerField(default=0, help_text=_("처리한 건수 (구성요소별 의미)"))
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["component"]
        verbose_name = _("시스템 상태")
        verbose_name_plural = _("시스템 상태")
        permissions = [
            ("trade", _("주문, 설정 변경, 시작/중지를 할 수 있음")),
        ]

    def __str__(self) -> str:
        return f"{self.component}: {self.status}"


class RuntimeFlag(models.Model):
    """An on/off switch a trader flips at run time (e.g. whether automated trading may place orders)."""

    key = models.SlugField(max_length=64, unique=True)
    enabled = models.BooleanField(default=False)
    description = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["key"]
        verbose_name = _("실행 스위치")
        verbose_name_plural = _("실행 스위치")

    def __str__(self) -> str:
        return f"{self.key}={'on' if self.enabled else 'off'}"


class RuntimeFlagEvent(models.Model):
    """Audit row written with every flag change, in the same transaction."""

    flag = models.ForeignKey(RuntimeFlag, on_delete=models.CASCADE, related_name="events")
    enabled = models.BooleanField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
