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

from apps.core.models import RuntimeFlag
from apps.core.permissions import can_trade
from apps.core.services import FlagError, flag_set


def home(request: HttpRequest) -> HttpResponse:
    """The system overview: component health and runtime switches."""
    from apps.broker.backends import request_budget

    context = {"flags": RuntimeFlag.objects.all(), "budget": request_budget()}
    return render(request, "core/home.html", context)


# The language can be switched on the login page too.
set_language_public = login_not_required(set_language)


@require_POST
def flag_toggle(request: HttpRequest, key: str) -> HttpResponse:
    """Trader-only form post from the system page; viewers get 403 and nothing changes."""
    if not can_trade(request.user):
        raise PermissionDenied
    enabled = request.POST.get("enabled") == "1"
    try:
        flag_set(key, enabled, user=request.user, reason="dashboard")
    except FlagError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("%(key)s: %(state)s") % {"key": key, "state": "ON" if enabled else "OFF"}
        )
    return redirect("home")
