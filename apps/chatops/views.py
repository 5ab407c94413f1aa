"""The web side of the chat remote control (thin): a one-time link code, the user's linked chats, unlink."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .commands import COMMANDS
from .conf import setting
from .selectors import commands_for_user, links_for_user
from .services import link_code_issue, link_delete


def telegram_page(request: HttpRequest) -> HttpResponse:
    """GET: the user's linked chats and recent commands. POST: a new one-time code, shown once."""
    code = expires = None
    if request.method == "POST":
        code, expires = link_code_issue(request.user)
    context = {
        "links": links_for_user(request.user),
        "commands": commands_for_user(request.user),
        "code": code,
        "expires": expires,
        "bot_configured": bool(settings.TELEGRAM_BOT_TOKEN),
        "code_minutes": setting("TELEGRAM_LINK_CODE_SECONDS") // 60,
        "command_names": sorted(COMMANDS),
    }
    return render(request, "chatops/telegram.html", context)


@require_POST
def unlink(request: HttpRequest, pk: int) -> HttpResponse:
    if link_delete(request.user, pk):
        messages.success(request, _("텔레그램 연결을 해제했습니다."))
    else:
        messages.error(request, _("해당 연결이 없습니다."))
    return redirect("chatops:telegram")
