"""Pages of the core app (thin)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from apps.core.permissions import can_trade
from apps.core.selectors import FLAGS_NEEDING_REASON
from apps.core.services import FlagError, switch_set


def home(request: HttpRequest) -> HttpResponse:
    """The overview (seed 004 §7.1): the account summary, automatic trading and risk state, the position
    cards, the day's feed of signals, fills and condition hits and the day's equity curve, all live over
    /ws/live; below them the components' health, the broker request budget and the runtime switches.
    `?partial=positions` returns the position cards alone (reloaded when a fill changes a quantity)."""
    from apps.core.overview import overview, overview_positions
    from apps.strategy.models import SignalStatus

    if request.GET.get("partial") == "positions":
        return render(request, "core/_positions.html", {"positions": overview_positions()})
    context = {
        **overview(),
        "signal_status_labels": {k: str(v) for k, v in SignalStatus.choices},
    }
    return render(request, "core/home.html", context)


# The language can be switched on the login page too.
set_language_public = login_not_required(set_language)


@require_POST
def flag_toggle(request: HttpRequest, key: str) -> HttpResponse:
    """Trader-only form post from the system page; viewers get 403 and nothing changes."""
    if not can_trade(request.user):
        raise PermissionDenied
    enabled = request.POST.get("enabled") == "1"
    reason = request.POST.get("reason", "").strip()
    # Switching automatic trading on sends real orders: the page asks for confirmation and a reason,
    # and a post without one (no JavaScript, a stale form) changes nothing.
    if enabled and key in FLAGS_NEEDING_REASON and not reason:
        messages.error(request, _("자동매매를 켜려면 사유를 입력하세요."))
        return redirect("home")
    try:
        switch_set(key, enabled, user=request.user, reason=reason or _("대시보드"))
    except FlagError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("%(key)s: %(state)s") % {"key": key, "state": "ON" if enabled else "OFF"}
        )
    return redirect("home")
