"""Market-data tables: the stock master and minute/daily OHLCV bars.

Bars reference instruments by their 6-character code (the instrument's primary key), so bulk
loaders write codes straight from the source files without a lookup. The bar tables carry no
database-level foreign key: a per-row FK trigger roughly doubled bulk-load time, and every
writer (`apps.market.services`) creates missing instruments in the same transaction as the bars.

Each bar table's primary key is the natural key, (code, time) or (code, date): one btree per
table, so a bulk COPY maintains a single index (a surrogate id plus a unique constraint cost
about a quarter of the load rate). Django's admin does not support composite primary keys, so
the bars are browsed on a page of the market app (/market/bars/) instead.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Market(models.TextChoices):
    KOSPI = "KOSPI", "KOSPI"
    KOSDAQ = "KOSDAQ", "KOSDAQ"
    KONEX = "KONEX", "KONEX"
    OTHER = "OTHER", "Other"


class Instrument(models.Model):
    code = models.CharField(max_length=6, primary_key=True)
    name = models.CharField(max_length=100, blank=True)
    market = models.CharField(max_length=8, choices=Market.choices, default=Market.OTHER)
    board = models.CharField(max_length=50, blank=True, help_text="소속부, e.g. 우량기업부")
    sector = models.CharField(max_length=100, blank=True)
    listed_shares = models.BigIntegerField(null=True, blank=True)
    listing_date = models.DateField(null=True, blank=True)
    is_halted = models.BooleanField(default=False, help_text="거래정지")
    is_administrative = models.BooleanField(default=False, help_text="관리종목")
    is_caution = models.BooleanField(default=False, help_text="투자주의환기종목 / 투자유의")
    warning = models.CharField(
        max_length=16,
        blank=True,
        help_text="investor warning (투자유의): etf_caution, liquidation, overheated, risk, warning; empty: none",
    )
    nxt_enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["market", "code"])]
        verbose_name = _("종목")
        verbose_name_plural = _("종목")

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class MinuteBar(models.Model):
    """One 1-minute bar; `time` is the aware bar END (09:01 KST covers 09:00:00-09:00:59)."""

    pk = models.CompositePrimaryKey("instrument", "time")

    instrument = models.ForeignKey(
        Instrument,
        on_delete=models.CASCADE,
        db_column="code",
        related_name="minute_bars",
        db_constraint=False,  # see the module docstring
        db_index=False,  # the primary key (code, time/date) serves lookups by code
    )
    time = models.DateTimeField()
    open = models.BigIntegerField()
    high = models.BigIntegerField()
    low = models.BigIntegerField()
    close = models.BigIntegerField()
    volume = models.BigIntegerField()
    value = models.BigIntegerField(null=True, blank=True, help_text="traded value, KRW")

    class Meta:
        ordering = ["instrument", "time"]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.time:%Y-%m-%d %H:%M}"


class DailyBar(models.Model):
    """One trading day; a day without a regular-session trade is a flat bar at the close."""

    pk = models.CompositePrimaryKey("instrument", "date")

    instrument = models.ForeignKey(
        Instrument,
        on_delete=models.CASCADE,
        db_column="code",
        related_name="daily_bars",
        db_constraint=False,  # see the module docstring
        db_index=False,  # the primary key (code, time/date) serves lookups by code
    )
    date = models.DateField()
    open = models.BigIntegerField()
    high = models.BigIntegerField()
    low = models.BigIntegerField()
    close = models.BigIntegerField()
    prev_close = models.BigIntegerField(null=True, blank=True)
    volume = models.BigIntegerField()
    value = models.BigIntegerField(help_text="traded value, KRW")

    class Meta:
        ordering = ["instrument", "date"]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.date}"
