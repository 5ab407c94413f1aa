"""The manual order forms of the orders page. Each form carries a one-time token (the idempotency key)."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.trades.models import OrderType, Side


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
    token = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("order_type") == OrderType.LIMIT and not data.get("price"):
            self.add_error("price", _("지정가 주문에는 가격이 필요합니다."))
        if data.get("order_type") != OrderType.LIMIT:
            data["price"] = None
        return data


class AmendForm(forms.Form):
    price = forms.IntegerField(label=_("정정 가격(원)"), min_value=1)
    token = forms.CharField(widget=forms.HiddenInput, max_length=100)


class CancelForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=100)
