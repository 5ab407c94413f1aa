"""The channel settings form (settings page and admin). The secret is write-only: left empty, it is kept."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.notifications.models import NotificationChannel, NotificationKind


class ChannelForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("비밀값 (Slack 웹훅 URL / Telegram 봇 토큰)"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("저장된 값은 다시 표시되지 않습니다. 비워두면 기존 값을 유지합니다."),
    )
    event_kinds = forms.MultipleChoiceField(
        label=_("알림 종류"),
        choices=NotificationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("선택하지 않으면 모든 종류를 받습니다."),
    )

    class Meta:
        model = NotificationChannel
        fields = [
            "kind",
            "name",
            "target",
            "secret",
            "enabled",
            "event_kinds",
            "quiet_start",
            "quiet_end",
            "min_interval_seconds",
        ]
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial.pop("secret", None)  # never rendered back, even as an initial value

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret") or ""
        if not value and self.instance.pk:
            return self.instance.secret or ""
        return value
