"""The manual order forms of the orders page. Each form carries a one-time token (the idempotency key)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.trades.models import OrderType, Side

MAX_SPLIT_PARTS = 100


def new_token() -> str:
    return uuid.uuid4().hex


class OrderForm(forms.Form):
    side = forms.ChoiceField(label=_("매매구분"), choices=Side.choices)
    code = forms.RegexField(
        label=_("종목코드"),
        regex=r"^[0-9A-Z]{6}$",
        max_length=6,
        error_messages={"invalid": _("종목코드는 6자리입니다.")},
    )
    order_type = forms.ChoiceField(label=_("주문유형"), choices=OrderType.choices)
    quantity = forms.IntegerField(label=_("수량"), min_value=1, max_value=10_000_000)
    price = forms.IntegerField(label=_("가격(원)"), min_value=1, required=False)
    slippage_cap_pct = forms.DecimalField(
        label=_("슬리피지 한도(%)"),
        min_value=Decimal("0"),
        max_value=Decimal("30"),
        decimal_places=3,
        required=False,
        help_text=_("현재가 대비 최대 불리한 가격 차이"),
    )
    split_parts = forms.IntegerField(
        label=_("분할 횟수"), min_value=1, max_value=MAX_SPLIT_PARTS, required=False
    )
    split_interval = forms.IntegerField(
        label=_("분할 간격(초)"), min_value=0, max_value=3600, required=False
    )
    split_by_depth = forms.BooleanField(label=_("호가 잔량만큼 분할"), required=False)
    token = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("order_type") == OrderType.LIMIT and not data.get("price"):
            self.add_error("price", _("지정가 주문에는 가격이 필요합니다."))
        if data.get("order_type") != OrderType.LIMIT:
            data["price"] = None
        if (
            data.get("split_by_depth")
            and not data.get("price")
            and data.get("slippage_cap_pct") is None
        ):
            self.add_error(
                "split_by_depth", _("호가 잔량 분할에는 지정가 또는 슬리피지 한도가 필요합니다.")
            )
        return data


class AmendForm(forms.Form):
    price = forms.IntegerField(label=_("정정 가격(원)"), min_value=1)
    token = forms.CharField(widget=forms.HiddenInput, max_length=100)


class CancelForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=100)
