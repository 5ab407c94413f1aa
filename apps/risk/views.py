"""The risk page (/risk/, seed 004 §7.5), thin: the active configuration and its edit form (traders),
the version history, the state with halt/reduce/resume, today's figures, the state journal and the
emergency liquidation control (`risk/_emergency_sell.html`). Viewers read; their posts get 403."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.permissions import can_trade

from .forms import RiskConfigForm, initial_of
from .present import config_dict, state_dict
from .selectors import active_config, config_history, state_journal
from .services import gate
from .services.config import ConfigInvalid, config_update


def _account() -> str:
    from apps.accounts.selectors import active_account_no

    return active_account_no()


def risk_page(request: HttpRequest, form: RiskConfigForm | None = None) -> HttpResponse:
    config = active_config()
    if form is None:
        form = RiskConfigForm(initial=initial_of(config.row))
    labels = RiskConfigForm.base_fields
    kinds = dict(labels["excluded_kinds"].choices)
    rows = []
    for name, value in initial_of(config.row).items():
        if name == "excluded_kinds":
            value = ", ".join(str(kinds.get(k, k)) for k in sorted(value or [])) or None
        rows.append((name, labels[name].label, value))
    context = {
        "config": config_dict(config.row),
        "config_rows": rows,
        "config_row": config.row,
        "form": form,
        "history": config_history(),
        "journal": state_journal(20),
        "state": state_dict(_account()),
    }
    return render(request, "risk/page.html", context, status=400 if form.is_bound else 200)


@require_POST
def config_save(request: HttpRequest) -> HttpResponse:
    if not can_trade(request.user):
        raise PermissionDenied
    form = RiskConfigForm(data=request.POST)
    if not form.is_valid():
        return risk_page(request, form)
    data = {k: v for k, v in form.cleaned_data.items() if k != "reason"}
    try:
        row, warnings = config_update(data, user=request.user, reason=form.cleaned_data["reason"])
    except ConfigInvalid as exc:  # pragma: no cover - the same form validated it
        for field, errors in exc.errors.items():
            form.add_error(field if field in form.fields else None, errors)
        return risk_page(request, form)
    messages.success(request, _("리스크 설정 v%(version)s 저장") % {"version": row.version})
    for warning in warnings:
        messages.warning(request, warning)
    return redirect("risk:page")


@require_POST
def state_change(request: HttpRequest, action: str) -> HttpResponse:
    if not can_trade(request.user):
        raise PermissionDenied
    reason = request.POST.get("reason", "").strip()[:200]
    fn = {"halt": gate.halt, "reduce": gate.reduce, "resume": gate.resume}.get(action)
    if fn is None:
        raise PermissionDenied
    if action == "resume" and not reason:
        messages.error(request, _("재개하려면 사유를 입력하세요."))
        return redirect("risk:page")
    fn(user=request.user, reason=reason or _("리스크 페이지"))
    return redirect("risk:page")
