"""The risk configuration form: the one validation of a new version (the risk page and the API)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .check import EXCLUSION_KINDS
from .models import RiskConfig

# The seed's band for the stop-loss (seed 004 §6.7): outside it is allowed, with a warning.
STOP_LOSS_BAND = (Decimal(-5), Decimal(-3))

CONFIG_FIELDS = [
    "stop_loss_pct",
    "take_profit_pct",
    "trailing_stop_pct",
    "exit_before_close_minutes",
    "weight_pct",
    "max_positions",
    "max_daily_loss_krw",
    "max_daily_loss_pct",
    "max_order_value",
    "max_entries_per_minute",
    "no_entry_before_close_minutes",
    "excluded_kinds",
    "reduce_at_pct",
]


def _dec(**kw: Any) -> forms.DecimalField:
    return forms.DecimalField(max_digits=6, decimal_places=2, **kw)


class RiskConfigForm(forms.Form):
    stop_loss_pct = _dec(
        label=_("손절률(%)"), min_value=Decimal(-10), max_value=Decimal(-1), required=True
    )
    take_profit_pct = _dec(
        label=_("익절률(%)"), min_value=Decimal("0.01"), max_value=Decimal(100), required=False
    )
    trailing_stop_pct = _dec(
        label=_("트레일링 스탑(%)"),
        min_value=Decimal("0.01"),
        max_value=Decimal(50),
        required=False,
    )
    exit_before_close_minutes = forms.IntegerField(
        label=_("장 마감 전 청산(분)"), min_value=0, max_value=120, required=False
    )
    weight_pct = _dec(
        label=_("종목당 최대 비중(%)"), min_value=Decimal("0.01"), max_value=Decimal(100)
    )
    max_positions = forms.IntegerField(label=_("동시 보유 종목 수"), min_value=1, max_value=100)
    max_daily_loss_krw = forms.IntegerField(
        label=_("1일 최대 손실(원)"), min_value=1, max_value=10**13, required=False
    )
    max_daily_loss_pct = _dec(
        label=_("1일 최대 손실(%)"),
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        required=False,
    )
    max_order_value = forms.IntegerField(
        label=_("1회 최대 주문금액(원)"), min_value=1, max_value=10**13, required=False
    )
    max_entries_per_minute = forms.IntegerField(
        label=_("분당 최대 신규 진입 주문"), min_value=1, max_value=1000, required=False
    )
    no_entry_before_close_minutes = forms.IntegerField(
        label=_("장 마감 전 신규 진입 금지(분)"), min_value=0, max_value=390
    )
    excluded_kinds = forms.MultipleChoiceField(
        label=_("진입 제외 종목 구분"),
        choices=[(k, _(v)) for k, v in EXCLUSION_KINDS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reduce_at_pct = _dec(
        label=_("축소 전환 손실 한도 사용률(%)"), min_value=Decimal(1), max_value=Decimal(100)
    )
    reason = forms.CharField(label=_("변경 사유"), max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if (
            "max_daily_loss_krw" in data
            and "max_daily_loss_pct" in data
            and data["max_daily_loss_krw"] is None
            and data["max_daily_loss_pct"] is None
        ):
            self.add_error(
                "max_daily_loss_krw", _("1일 최대 손실은 원 또는 % 중 하나 이상 정해야 합니다.")
            )
        return data

    @property
    def warnings(self) -> list[str]:
        value = self.cleaned_data.get("stop_loss_pct") if hasattr(self, "cleaned_data") else None
        if value is not None and not STOP_LOSS_BAND[0] <= value <= STOP_LOSS_BAND[1]:
            return [
                str(_("손절률 %(value)s%%는 권장 범위(-3%%~-5%%)를 벗어납니다.") % {"value": value})
            ]
        return []


def initial_of(row: RiskConfig) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CONFIG_FIELDS}
