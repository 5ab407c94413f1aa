"""Backtest pages: `/backtests/` (a trader launches a run; the list of runs) and `/backtests/<id>/`
(a live progress bar polling the API while it runs, a cancel button; when finished the metrics, the
equity and drawdown chart and the trades, each linked to `/backtests/<id>/chart/<code>/`, the
per-stock candle chart with the run's entries and exits). Thin: the launch form's fields become the API's body and go
through the same serializer and `services.backtest_launch`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.pagination import page_of
from apps.core.permissions import can_trade
from apps.market.views import chart_render
from apps.strategy.engine.runner import BUILTINS as REGISTRY

from .chart import backtest_trade_days
from .compare import CompareInvalid, compare_runs, parse_ids
from .models import BacktestRun
from .selectors import UNIVERSES
from .serializers import BacktestCreateSerializer, equity_series
from .services import BacktestInvalid, backtest_cancel, backtest_launch

FORM_FIELDS = ("strategy", "date_from", "date_to", "codes", "universe", "params", "budget_krw",
               "cash_krw", "assume_news_score", "fill_model")  # fmt: skip


def form_body(post: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The launch form's fields as the API's body (codes split on spaces/commas, `param=value` lines)."""
    errors: dict[str, list[str]] = {}
    params: dict[str, str] = {}
    for line in str(post.get("params", "")).splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            errors.setdefault("params", []).append(
                _("한 줄에 이름=값 하나씩: %s") % line.strip()[:50]
            )
            continue
        params[key.strip()] = value.strip()
    codes = str(post.get("codes", "")).replace(",", " ").split()
    options = {
        k: post.get(k)
        for k in ("budget_krw", "cash_krw", "assume_news_score", "fill_model")
        if post.get(k)
    }
    body: dict[str, Any] = {
        "strategy": post.get("strategy", ""),
        "date_from": post.get("date_from", ""),
        "date_to": post.get("date_to", ""),
        "codes": [c.upper() for c in codes],
        "universe": "" if codes else post.get("universe", ""),
        "params": params,
        "options": options,
    }
    return body, errors


def _flat(errors: Any) -> dict[str, list[str]]:
    """The serializer's errors by form field (the options' fields are fields of the form; a code's
    error is the codes field's)."""
    out: dict[str, list[str]] = {}
    for key, value in dict(errors).items():
        if key == "options" and isinstance(value, dict):
            out.update(_flat(value))
        elif isinstance(value, dict):
            out[key] = [str(m) for msgs in value.values() for m in _flat({key: msgs})[key]]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


def fill_model_choices() -> list[tuple[str, str]]:
    """The fill models as (value, label): the page's select and the run page's label."""
    return [
        ("bars", _("봉 모델: 봉 종가에 판단, 다음 봉에 체결 (빠름)")),
        ("tape", _("테이프 모델: 시뮬레이터의 체결, 모의투자와 같은 틱 단위 (느림)")),
    ]


def _strategies() -> list[dict[str, Any]]:
    english = (get_language() or "ko").startswith("en")
    return [
        {
            "name": name,
            "label": cls.label_en if english else cls.label,
            "params": [p.name for p in cls.schema.params],
        }
        for name, cls in REGISTRY.items()
    ]


def backtests_page(request: HttpRequest) -> HttpResponse:
    posted: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if not can_trade(request.user):
            raise PermissionDenied
        posted = {k: str(request.POST.get(k, ""))[:5000] for k in FORM_FIELDS}
        body, errors = form_body(request.POST)
        if not errors:
            checked = BacktestCreateSerializer(data=body)
            if checked.is_valid():
                try:
                    run = backtest_launch(checked.validated_data, user=request.user)
                except BacktestInvalid as exc:
                    errors = exc.errors
                else:
                    messages.success(
                        request, _("백테스트 #%(id)s 대기열에 넣었습니다.") % {"id": run.pk}
                    )
                    return redirect("backtests:detail", pk=run.pk)
            else:
                errors = _flat(checked.errors)
    runs = page_of(BacktestRun.objects.select_related("created_by"), request.GET.get("page"))
    context = {
        "runs": runs,
        "strategies": _strategies(),
        "universes": UNIVERSES,
        "fill_models": fill_model_choices(),
        "posted": posted,
        "errors": errors,
        "can_launch": can_trade(request.user),
    }
    return render(request, "backtests/list.html", context, status=400 if errors else 200)


def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(BacktestRun.objects.select_related("created_by"), pk=pk)
    metrics = run.metrics or {}
    fill_model = str((run.options or {}).get("fill_model", "bars"))
    context = {
        "run": run,
        "fill_model": fill_model,
        "fill_model_label": dict(fill_model_choices()).get(fill_model, fill_model),
        "metrics": metrics,
        "trades": run.trades.all()[:1000] if run.is_final else [],
        "series": [
            {"time": p["time"], "equity": p["equity"], "drawdown_pct": str(p["drawdown_pct"])}
            for p in equity_series(run)
        ],
        "can_cancel": can_trade(request.user) and not run.is_final,
    }
    return render(request, "backtests/detail.html", context)


@require_POST
def backtest_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_trade(request.user):
        raise PermissionDenied
    get_object_or_404(BacktestRun, pk=pk)
    if backtest_cancel(pk):
        messages.info(request, _("백테스트 #%(id)s 취소를 요청했습니다.") % {"id": pk})
    else:
        messages.info(request, _("이미 끝난 백테스트입니다."))
    return redirect("backtests:detail", pk=pk)


def backtest_chart(request: HttpRequest, pk: int, code: str) -> HttpResponse:
    """`/backtests/<id>/chart/<code>/?date=`: the per-stock chart with this run's entries and exits
    (default: the first day it traded the code)."""
    run = get_object_or_404(BacktestRun, pk=pk)
    days = backtest_trade_days(run, code)
    overlay = {
        "markers_url": reverse("api-backtest-markers", args=[run.pk, code]),
        "default_day": days[0] if days else run.date_from,
        "days": days,
        "title": _("백테스트 #%(id)s (%(strategy)s)의 진입·청산")
        % {"id": run.pk, "strategy": run.strategy},
        "back_url": reverse("backtests:detail", args=[run.pk]),
    }
    return chart_render(request, code, overlay)


def backtest_compare(request: HttpRequest) -> HttpResponse:
    """`/backtests/compare/?ids=1&ids=2`: finished runs side by side (`compare.compare_runs`); ids that
    cannot be compared answer 400 with the reason."""
    try:
        comparison = compare_runs(parse_ids(request.GET.getlist("ids")))
    except CompareInvalid as exc:
        return render(request, "backtests/compare.html", {"error": str(exc)}, status=400)
    return render(request, "backtests/compare.html", {"cmp": comparison})
