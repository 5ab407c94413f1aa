"""Tuning pages: `/backtests/tuning/` (a trader launches a run; the list of runs) and
`/backtests/tuning/<id>/` (live progress polling the API while trials run, cancel; the out-of-sample
headline, the per-window choice, the results table, a heat map of two parameters and the apply button).
Thin: the form's fields become the API's body and go through the same serializer and
`tuning_services.tuning_launch`.

Ranges in the form, one parameter a line: `fast=3..10` (ints step 1), `rate=0.5..2:0.25` (with a step),
`slow=10,20,30` (values).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.pagination import page_of
from apps.core.permissions import can_trade
from apps.strategy.engine.runner import REGISTRY as CONFIGURABLE

from . import tuning
from .models import TuningObjective, TuningRun
from .selectors import UNIVERSES
from .tuning_selectors import heatmap, progress_from, tuned_names, with_progress
from .tuning_serializers import TuningCreateSerializer
from .tuning_services import TuningInvalid, tuning_apply, tuning_cancel, tuning_launch
from .views import _flat, _strategies, form_body

FORM_FIELDS = ("strategy", "date_from", "date_to", "codes", "universe", "params", "ranges", "method",
               "trials", "seed", "objective", "in_sample_days", "out_sample_days", "step_days",
               "budget_krw", "cash_krw")  # fmt: skip
NUMBERS = ("trials", "seed", "in_sample_days", "out_sample_days", "step_days")


def parse_ranges(text: str) -> tuple[dict[str, Any], list[str]]:
    """The form's range lines as the API's `ranges` and a message per bad line."""
    ranges, bad = tuning.parse_range_lines(text)
    return ranges, [
        _("한 줄에 이름=최소..최대[:간격] 또는 이름=값,값: %s") % line[:50] for line in bad
    ]


def tuning_form_body(post: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    body, errors = form_body(post)  # strategy, dates, codes/universe, fixed params, options
    body["options"] = {k: v for k, v in body["options"].items() if k != "assume_news_score"}
    ranges, bad = parse_ranges(str(post.get("ranges", "")))
    if bad:
        errors["ranges"] = bad
    body["ranges"] = ranges
    body["method"] = post.get("method") or "grid"
    body["objective"] = post.get("objective") or "return_pct"
    for name in NUMBERS:
        raw = str(post.get(name, "")).strip()
        if raw:
            body[name] = raw
    return body, errors


def tuning_page(request: HttpRequest) -> HttpResponse:
    posted: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if not can_trade(request.user):
            raise PermissionDenied
        posted = {k: str(request.POST.get(k, ""))[:5000] for k in FORM_FIELDS}
        body, errors = tuning_form_body(request.POST)
        if not errors:
            checked = TuningCreateSerializer(data=body)
            if checked.is_valid():
                try:
                    run = tuning_launch(checked.validated_data, user=request.user)
                except TuningInvalid as exc:
                    errors = exc.errors
                else:
                    messages.success(
                        request,
                        _("튜닝 #%(id)s: 시도 %(n)s회를 대기열에 넣었습니다.")
                        % {"id": run.pk, "n": run.trials_total},
                    )
                    return redirect("backtests:tuning-detail", pk=run.pk)
            else:
                errors = _flat(checked.errors)
    runs = page_of(
        with_progress(TuningRun.objects.select_related("created_by")).order_by(
            "-created_at", "-id"
        ),
        request.GET.get("page"),
    )
    for run in runs:
        run.counts = progress_from(run)
    context = {
        "runs": runs,
        "strategies": _strategies(),
        "universes": UNIVERSES,
        "objectives": TuningObjective.choices,
        "posted": posted,
        "errors": errors,
        "can_launch": can_trade(request.user),
    }
    return render(request, "backtests/tuning_list.html", context, status=400 if errors else 200)


def _trial_rows(run: TuningRun, trials: list[Any]) -> list[dict[str, Any]]:
    chosen = {(w["index"], w["set_index"]) for w in (run.result or {}).get("windows", [])}
    names = tuned_names(run)
    return [
        {
            "trial": t,
            "tuned": " ".join(f"{n}={t.params.get(n)}" for n in names),
            "chosen": (t.window, t.set_index) in chosen,
            "is_return": (t.is_metrics or {}).get("return_pct"),
            "oos_return": (t.oos_metrics or {}).get("return_pct"),
            "oos_trades": (t.oos_metrics or {}).get("total_trades"),
        }
        for t in trials
    ]


def tuning_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(TuningRun.objects.select_related("created_by"), pk=pk)
    counts = progress_from(run)
    trials = list(run.trials.order_by("window", "-is_score", "index")[:2000])
    names = list(run.params or {}) or tuned_names(run)
    tuned = tuned_names(run)
    x = (
        request.GET.get("x")
        if request.GET.get("x") in names
        else (tuned[:1] or names[:1] or [""])[0]
    )
    others = [n for n in tuned if n != x] + [n for n in names if n != x and n not in tuned]
    y = request.GET.get("y") if request.GET.get("y") in names else (others[:1] or [x])[0]
    sample = "oos" if request.GET.get("sample") == "oos" else "is"
    context = {
        "run": run,
        "counts": counts,
        "result": run.result or {},
        "headline": (run.result or {}).get("headline") or {},
        "rows": _trial_rows(run, trials),
        "heat": heatmap(run, x, y, sample, trials) if x and y else None,
        "param_names": names,
        "can_cancel": can_trade(request.user) and not run.is_final,
        "can_apply": can_trade(request.user)
        and run.status == "done"
        and bool(run.best_params)
        and run.strategy in CONFIGURABLE,
        "configurable": run.strategy in CONFIGURABLE,
    }
    return render(request, "backtests/tuning_detail.html", context)


@require_POST
def tuning_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_trade(request.user):
        raise PermissionDenied
    get_object_or_404(TuningRun, pk=pk)
    if tuning_cancel(pk):
        messages.info(request, _("튜닝 #%(id)s 취소를 요청했습니다.") % {"id": pk})
    else:
        messages.info(request, _("이미 끝난 튜닝입니다."))
    return redirect("backtests:tuning-detail", pk=pk)


@require_POST
def tuning_apply_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_trade(request.user):
        raise PermissionDenied
    get_object_or_404(TuningRun, pk=pk)
    try:
        config, changed = tuning_apply(pk, request.user)
    except TuningInvalid as exc:
        for field, msgs in exc.errors.items():
            messages.error(request, f"{field}: {'; '.join(msgs)}")
    else:
        if changed:
            messages.success(
                request,
                _("%(strategy)s 설정 v%(version)s을 만들었습니다 (튜닝 #%(id)s).")
                % {"strategy": config.strategy, "version": config.version, "id": pk},
            )
        else:
            messages.info(request, _("현재 설정과 같아 새 버전을 만들지 않았습니다."))
    return redirect("backtests:tuning-detail", pk=pk)
