"""The news app's tables: news items and their scores, stored with their times so a replay sees the same
news."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .contract import NewsItem as NewsItemData
from .contract import NewsScore


class NewsOrigin(models.TextChoices):
    SERVICE = "service", _("뉴스 서비스")
    CHANNEL = "channel", _("속보 채널")
    API = "api", _("API")
    SIM = "sim", _("모의 뉴스")


def dedupe_key(code: str, published_at: datetime, source: str, headline: str) -> str:
    """The same item pushed twice (or by two routes) is one row: code, UTC time, source and headline."""
    moment = published_at.astimezone(UTC).isoformat()
    raw = "\x1f".join((code, moment, source.strip(), headline.strip()))
    return hashlib.sha256(raw.encode()).hexdigest()


class NewsItem(models.Model):
    code = models.CharField(_("종목코드"), max_length=6)
    headline = models.CharField(_("제목"), max_length=300)
    source = models.CharField(_("출처"), max_length=100)
    published_at = models.DateTimeField(_("발행 시각"))
    score = models.PositiveSmallIntegerField(_("점수"), validators=[MaxValueValidator(100)])
    received_at = models.DateTimeField(_("수신 시각"), default=timezone.now)
    origin = models.CharField(_("경로"), max_length=16, choices=NewsOrigin.choices)
    url = models.URLField(_("URL"), max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-published_at", "code"]
        indexes = [
            models.Index(fields=["code", "-published_at"], name="news_code_time"),
            models.Index(fields=["published_at"], name="news_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100), name="news_score_0_100"
            ),
        ]
        verbose_name = _("뉴스")
        verbose_name_plural = _("뉴스")

    def __str__(self) -> str:
        return f"{self.code} {self.score} {self.headline[:40]}"

    def save(self, *args, **kwargs) -> None:
        if not self.dedupe_key:
            self.dedupe_key = dedupe_key(self.code, self.published_at, self.source, self.headline)
        super().save(*args, **kwargs)

    def as_item(self) -> NewsItemData:
        return NewsItemData(
            self.code, self.score, self.headline, self.source, self.published_at, self.url
        )

    def as_score(self) -> NewsScore:
        return NewsScore(self.code, self.score, self.headline, self.source, self.published_at)
