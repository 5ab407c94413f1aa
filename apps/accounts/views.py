"""Pages of the accounts app (thin): the broker account settings (seed 004's "API key settings") with the
latest balance. Anyone logged in sees it with masked keys; only traders add, edit, switch or sync."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts import selectors, services
from apps.accounts.forms import AccountForm
from apps.accounts.models import BrokerAccount, SnapshotSource
from apps.broker.contract import BrokerError
from apps.core.permissions import can_trade


def _require_trader(request: HttpRequest) -> None:
    if not can_trade(request.user):
        raise PermissionDenied


def _save(request: HttpRequest, form: AccountForm) -> bool:
    if not form.is_valid():
        return False
    try:
        services.account_save(form.save(commit=False), user=request.user)
    except ValidationError as exc:
        form.add_error(None, exc)
        return False
    return True


def settings_page(request: HttpRequest) -> HttpResponse:
    """GET: accounts (masked), the latest balance and holdings, a new-account form. POST: add one."""
    form = AccountForm(request.POST or None, prefix="new")
    if request.method == "POST":
        _require_trader(request)
        if _save(request, form):
            messages.success(request, _("계좌를 추가했습니다."))
            return redirect("accounts:settings")
        messages.error(request, _("입력을 확인하세요. 저장하지 않았습니다."))
    active = selectors.account_active()
    context = {
        "accounts": selectors.accounts_list(),
        "active": active,
        "balance": selectors.balance_latest(active),
        "holdings": selectors.holdings_latest(active),
        "form": form,
    }
    return render(request, "accounts/settings.html", context, status=400 if form.errors else 200)


def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_trader(request)
    account = get_object_or_404(BrokerAccount, pk=pk)
    form = AccountForm(request.POST or None, instance=account)
    if request.method == "POST":
        if _save(request, form):
            messages.success(request, _("계좌를 저장했습니다."))
            return redirect("accounts:settings")
        messages.error(request, _("입력을 확인하세요. 저장하지 않았습니다."))
    return render(
        request,
        "accounts/account_form.html",
        {"form": form, "account": account},
        status=400 if form.errors else 200,
    )


@require_POST
def account_activate(request: HttpRequest, pk: int) -> HttpResponse:
    _require_trader(request)
    account = get_object_or_404(BrokerAccount, pk=pk)
    try:
        services.account_activate(account, user=request.user)
    except services.AccountError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("매매 계좌를 %(account)s(으)로 바꿨습니다.") % {"account": account}
        )
    return redirect("accounts:settings")


@require_POST
@transaction.non_atomic_requests
def balance_sync(request: HttpRequest) -> HttpResponse:
    _require_trader(request)
    try:
        snapshot = services.balance_sync(source=SnapshotSource.MANUAL)
    except BrokerError as exc:
        messages.error(request, _("잔고 조회 실패: %(error)s") % {"error": type(exc).__name__})
    else:
        if snapshot is None:
            messages.error(request, _("등록된 계좌가 없습니다."))
        else:
            messages.success(request, _("잔고를 갱신했습니다."))
    return redirect("accounts:settings")
