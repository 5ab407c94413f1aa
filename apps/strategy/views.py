"""The strategy page (/strategy/, seed 004 §7.3), thin: each strategy's active version with its
parameters form and budget (traders), the on/off toggle, the change history with what changed, and the
recent signals with their reasons and features. Viewers read; their posts get 403. A bad value is shown
at its field and nothing is saved."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.permissions import can_trade

from .engine.runner import REGISTRY
from .models import SignalStatus, StrategyConfig
from .selectors import active_configs, config_history, recent_signals
from .services import ConfigInvalid, config_toggle, config_update

PREFIX = "p_"


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _card(
    row: StrategyConfig, english: bool, posted: dict[str, str] | None, errors: dict[str, list[str]]
) -> dict[str, Any]:
    cls = REGISTRY[row.strategy]
    params = []
    for p in cls.schema.params:
        current = row.params.get(p.name, p.default)
        params.append(
            {
                "name": p.name,
                "input": PREFIX + p.name,
                "kind": p.kind,
                "label": p.label_en if english else p.label,
                "help": p.help,
                "range": _range(p.min, p.max, p.nullable),
                "current": (_("예") if current else _("아니오"))
                if p.kind == "bool"
                else _shown(current),
                "value": posted.get(p.name, _shown(current)) if posted else _shown(current),
                "errors": errors.get(p.name, []),
            }
        )
    return {
        "name": row.strategy,
        "label": cls.label_en if english else cls.label,
        "row": row,
        "params": params,
        "budget": posted.get("budget_krw", row.budget_krw) if posted else row.budget_krw,
        "reason": posted.get("reason", "") if posted else "",
        "errors": errors,
        "open": bool(errors),
    }


def _range(low: Any, high: Any, nullable: bool) -> str:
    text = f"{low} ~ {high}" if low is not None and high is not None else ""
    if not nullable:
        return text
    return "{} ({})".format(text, _("비우면 사용 안 함")).strip()


def strategy_page(
    request: HttpRequest,
    failed: str | None = None,
    posted: dict[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> HttpResponse:
    english = (get_language() or "ko").startswith("en")
    cards = []
    for row in active_configs():
        mine = row.strategy == failed
        cards.append(_card(row, english, posted if mine else None, (errors or {}) if mine else {}))
    history = [
        {
            "row": row,
            "label": REGISTRY[row.strategy].label_en if english else REGISTRY[row.strategy].label,
            "changes": changes,
        }
        for row, changes in config_history(None, 50)
    ]
    labels = {
        "buy": _("매수"),
        "sell": _("매도"),
        "won": _("원"),
        "status": {value: str(label) for value, label in SignalStatus.choices},
    }
    context = {"cards": cards, "history": history, "signals": recent_signals(50), "labels": labels}
    return render(request, "strategy/page.html", context, status=400 if failed else 200)


def _strategy(name: str) -> str:
    if name not in REGISTRY:
        raise Http404
    return name


@require_POST
def config_save(request: HttpRequest, name: str) -> HttpResponse:
    if not can_trade(request.user):
        raise PermissionDenied
    name = _strategy(name)
    schema = REGISTRY[name].schema
    params = {p.name: request.POST.get(PREFIX + p.name, "") for p in schema.params}
    data = {"params": params, "budget_krw": request.POST.get("budget_krw", "")}
    reason = request.POST.get("reason", "")
    try:
        row, changed = config_update(name, data, user=request.user, reason=reason)
    except ConfigInvalid as exc:
        posted = {**params, "budget_krw": data["budget_krw"], "reason": reason}
        return strategy_page(request, failed=name, posted=posted, errors=exc.errors)
    if changed:
        messages.success(
            request,
            _("%(label)s 설정 v%(version)s 저장")
            % {"label": REGISTRY[name].label, "version": row.version},
        )
    else:
        messages.info(request, _("바뀐 값이 없어 저장하지 않았습니다."))
    return redirect("strategy:page")


@require_POST
def toggle(request: HttpRequest, name: str) -> HttpResponse:
    if not can_trade(request.user):
        raise PermissionDenied
    name = _strategy(name)
    enabled = request.POST.get("enabled") == "1"
    try:
        row, _changed = config_toggle(
            name, enabled, user=request.user, reason=request.POST.get("reason", "")
        )
    except ConfigInvalid as exc:
        return strategy_page(request, failed=name, posted={}, errors=exc.errors)
    messages.success(
        request,
        (_("%(label)s 켜짐 (v%(version)s)") if row.enabled else _("%(label)s 꺼짐 (v%(version)s)"))
        % {"label": REGISTRY[name].label, "version": row.version},
    )
    return redirect("strategy:page")
