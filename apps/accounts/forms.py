"""The broker account form (settings page). The app key and secret are write-only: left empty, kept."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import BrokerAccount


def _secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("저장된 값은 다시 표시되지 않습니다. 비워두면 기존 값을 유지합니다."),
    )


class AccountForm(forms.ModelForm):
    app_key = _secret_field(_("앱 키"))
    secret_key = _secret_field(_("시크릿 키"))

    class Meta:
        model = BrokerAccount
        fields = ["account_no", "label", "mode", "app_key", "secret_key"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("app_key", "secret_key"):
            self.initial.pop(name, None)  # never rendered back, even as an initial value

    def _kept(self, name: str) -> str:
        value = self.cleaned_data.get(name) or ""
        if not value and self.instance.pk:
            return getattr(self.instance, name) or ""
        return value

    def clean_app_key(self) -> str:
        return self._kept("app_key")

    def clean_secret_key(self) -> str:
        return self._kept("secret_key")

    def clean(self) -> dict:
        data = super().clean()
        if not (data.get("app_key") and data.get("secret_key")):
            raise forms.ValidationError(_("앱 키와 시크릿 키를 모두 입력하세요."))
        return data
