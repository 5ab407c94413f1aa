"""The scanner page (/scanner/, seed 004 §7.4), thin: the run in force and its candidates, the day's runs
as a replay slider; `?partial=1` renders the table alone (the page reloads it on `scanner_update`)."""

from __future__ import annotations

import datetime as dt
import re

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_date

from .scanner_models import ScanSnapshot
from .scanner_selectors import day_runs, snapshot_at, snapshot_rows

_ID = re.compile(r"^[0-9]{1,15}$")


def _chosen(request: HttpRequest) -> ScanSnapshot | None:
    raw_id = request.GET.get("snapshot", "")
    if raw_id:
        if not _ID.match(raw_id):
            raise Http404("unknown run")
        snapshot = ScanSnapshot.objects.filter(pk=int(raw_id)).first()
        if snapshot is None:
            raise Http404("unknown run")
        return snapshot
    raw_day = request.GET.get("day", "")
    try:
        day: dt.date | None = parse_date(raw_day) if raw_day else None
    except ValueError:
        day = None
    return snapshot_at(day)


def scanner_page(request: HttpRequest) -> HttpResponse:
    snapshot = _chosen(request)
    rows = snapshot_rows(snapshot) if snapshot is not None else []
    context: dict[str, object] = {"snapshot": snapshot, "rows": rows}
    if request.GET.get("partial"):
        return render(request, "strategy/_scanner_rows.html", context)
    runs = day_runs(snapshot.day) if snapshot is not None else []
    ids = [run.pk for run in runs]
    context["runs"] = runs
    context["runs_json"] = [
        {"id": r.pk, "at": r.at.isoformat(), "day": r.day.isoformat()} for r in runs
    ]
    context["index"] = ids.index(snapshot.pk) if snapshot is not None and snapshot.pk in ids else 0
    context["live"] = bool(ids) and snapshot is not None and snapshot.pk == ids[-1]
    return render(request, "strategy/scanner.html", context)
