"""Pages of the notifications app (thin): each user's own channel settings and delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.security import NotifyTestThrottle
from apps.notifications.forms import ChannelForm
from apps.notifications.models import NotificationChannel
from apps.notifications.selectors import channels_for_user, deliveries_for_user
from apps.notifications.services import channel_delete, channel_save, channel_send_test

RECENT_DELIVERIES = 30


def _save_form(form: ChannelForm) -> bool:
    if not form.is_valid():
        return False
    try:
        channel_save(form.save(commit=False))
    except ValidationError as exc:
        form.add_error(None, exc)
        return False
    return True


def settings_page(request: HttpRequest) -> HttpResponse:
    """GET: channels, a new-channel form and the recent delivery log. POST: add a channel."""
    form = ChannelForm(
        request.POST or None, instance=NotificationChannel(user=request.user), prefix="new"
    )
    if request.method == "POST":
        if _save_form(form):
            messages.success(request, _("알림 채널을 추가했습니다."))
            return redirect("notifications:settings")
        messages.error(request, _("입력을 확인하세요. 저장하지 않았습니다."))
    context = {
        "channels": channels_for_user(request.user),
        "deliveries": deliveries_for_user(request.user)[:RECENT_DELIVERIES],
        "form": form,
    }
    return render(
        request, "notifications/settings.html", context, status=400 if form.errors else 200
    )


def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(channels_for_user(request.user), pk=pk)
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST":
        if _save_form(form):
            messages.success(request, _("알림 채널을 저장했습니다."))
            return redirect("notifications:settings")
        messages.error(request, _("입력을 확인하세요. 저장하지 않았습니다."))
    return render(
        request,
        "notifications/channel_form.html",
        {"form": form, "channel": channel},
        status=400 if form.errors else 200,
    )


@require_POST
def channel_remove(request: HttpRequest, pk: int) -> HttpResponse:
    channel_delete(get_object_or_404(channels_for_user(request.user), pk=pk))
    messages.success(request, _("알림 채널을 삭제했습니다."))
    return redirect("notifications:settings")


@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(channels_for_user(request.user), pk=pk)
    throttle = NotifyTestThrottle()
    if not throttle.allow_request(request, None):
        wait = int(throttle.wait() or 60)
        messages.error(
            request,
            _("테스트 전송이 너무 잦습니다. %(seconds)s초 후에 다시 시도하세요.")
            % {"seconds": wait},
        )
        return redirect("notifications:settings")
    channel_send_test(channel)
    messages.success(
        request, _("테스트 메시지를 보냈습니다. 아래 전송 기록에서 결과를 확인하세요.")
    )
    return redirect("notifications:settings")
