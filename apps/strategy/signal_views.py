"""Pages of stored signals (thin): one signal with its reason, features, outcome and order."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .signal_selectors import signal_get


def signal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    signal = signal_get(pk)
    if signal is None:
        raise Http404
    return render(request, "strategy/signal_detail.html", {"signal": signal})
