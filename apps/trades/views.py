"""Pages of the trades app (thin): orders (live state, filters, manual trading), one order's journal,
positions (live P&L) and the trade log (seed 004 §7.2). Any logged-in user reads them; only traders see
and may post the order forms (viewers get 403). The pages refresh their tables from `/ws/live` events
(`order_filled`, `order_update`, `position_update`, `price_update`; the trade log on `order_filled`, as
a closing fill writes its trade) via `?partial=1`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.pagination import page_of
from apps.core.permissions import can_trade
from apps.trades import listing, manual
from apps.trades.forms import AmendForm, CancelForm, OrderForm, new_token
from apps.trades.models import OPEN_STATUSES, Order, OrderStatus, OrderType, Side, SplitOrder
from apps.trades.selectors import splits_recent
from apps.trades.services.executor import OrderRefused

PAGE_SIZE = 50


def _require_trader(request: HttpRequest) -> None:
    if not can_trade(request.user):
        raise PermissionDenied


def _page(request: HttpRequest, qs) -> Any:
    return page_of(qs, request.GET.get("page"), PAGE_SIZE)


def _filtered(request: HttpRequest, fn):
    try:
        return fn(request.GET), None
    except listing.FilterError as exc:
        return fn({}), f"{exc.param}: {exc.message}"


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("partial", None)
    return params.urlencode()


# --- orders ---------------------------------------------------------------------------------------------
def order_list(request: HttpRequest) -> HttpResponse:
    qs, error = _filtered(request, listing.orders_filtered)
    page = _page(request, qs)
    context = {
        "page": page,
        "filter_error": error,
        "statuses": [("open", _("미체결 전체")), *OrderStatus.choices],
        "sides": Side.choices,
        "query": _query_without_page(request),
        "live_statuses": [OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED],
        "open_statuses": list(OPEN_STATUSES),
    }
    if can_trade(request.user):
        context["token"] = new_token  # called once per row: each cancel form gets its own
    if request.GET.get("partial"):
        return render(request, "trades/_order_rows.html", context)
    if can_trade(request.user):
        context["form"] = OrderForm(initial={"token": new_token(), "order_type": OrderType.LIMIT})
    context["splits"] = splits_recent()
    return render(request, "trades/orders.html", context)


def order_detail(request: HttpRequest, pk) -> HttpResponse:
    get_object_or_404(Order, pk=pk)
    order = listing.order_detail(pk)
    context = {
        "order": order,
        "can_change": order.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED),
        "token": new_token(),
        "amend_token": new_token(),
    }
    if request.GET.get("partial"):
        return render(request, "trades/_order_detail.html", context)
    return render(request, "trades/order_detail.html", context)


def _refused(request: HttpRequest, exc: OrderRefused) -> None:
    messages.error(request, _("주문이 거부되었습니다: %(reason)s") % {"reason": exc.reason})


@require_POST
@transaction.non_atomic_requests
def order_place(request: HttpRequest) -> HttpResponse:
    _require_trader(request)
    form = OrderForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("trades:orders")
    try:
        if manual.wants_split(form.cleaned_data):
            split = manual.manual_split_place(
                request.user, form.cleaned_data, form.cleaned_data["token"]
            )
            messages.success(
                request,
                _("분할 주문 %(side)s %(code)s %(qty)s주 (%(mode)s, 최대 %(parts)s회): %(status)s")
                % {
                    "side": split.get_side_display(),
                    "code": split.code,
                    "qty": split.quantity,
                    "mode": split.get_mode_display(),
                    "parts": split.parts,
                    "status": split.get_status_display(),
                },
            )
            return redirect("trades:orders")
        order = manual.manual_order_place(
            request.user, form.cleaned_data, form.cleaned_data["token"]
        )
    except OrderRefused as exc:
        _refused(request, exc)
        return redirect("trades:orders")
    messages.success(
        request,
        _("주문 %(side)s %(code)s %(qty)s주: %(status)s")
        % {
            "side": order.get_side_display(),
            "code": order.code,
            "qty": order.quantity,
            "status": order.get_status_display(),
        },
    )
    return redirect("trades:orders")


@require_POST
@transaction.non_atomic_requests
def order_cancel(request: HttpRequest, pk) -> HttpResponse:
    _require_trader(request)
    order = get_object_or_404(Order, pk=pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            order = manual.manual_order_cancel(request.user, order, form.cleaned_data["token"])
        except OrderRefused as exc:
            _refused(request, exc)
        else:
            messages.success(
                request, _("취소 요청: %(status)s") % {"status": order.get_status_display()}
            )
    return redirect(request.POST.get("next") or "trades:orders")


@require_POST
@transaction.non_atomic_requests
def order_amend(request: HttpRequest, pk) -> HttpResponse:
    _require_trader(request)
    order = get_object_or_404(Order, pk=pk)
    form = AmendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("정정 가격을 확인하세요."))
        return redirect("trades:order", pk=order.pk)
    try:
        child = manual.manual_order_amend(
            request.user, order, form.cleaned_data["price"], form.cleaned_data["token"]
        )
    except OrderRefused as exc:
        _refused(request, exc)
        return redirect("trades:order", pk=order.pk)
    messages.success(request, _("정정 주문: %(status)s") % {"status": child.get_status_display()})
    return redirect("trades:order", pk=child.pk)


@require_POST
@transaction.non_atomic_requests
def split_cancel(request: HttpRequest, pk) -> HttpResponse:
    _require_trader(request)
    split = get_object_or_404(SplitOrder, pk=pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            split = manual.manual_split_cancel(request.user, split, form.cleaned_data["token"])
        except OrderRefused as exc:
            _refused(request, exc)
        else:
            messages.success(
                request,
                _("분할 주문 취소: %(status)s") % {"status": split.get_status_display()},
            )
    return redirect("trades:orders")


# --- positions and trades -------------------------------------------------------------------------------
def position_list(request: HttpRequest) -> HttpResponse:
    context = {"positions": listing.positions_live()}
    if request.GET.get("partial"):
        return render(request, "trades/_position_rows.html", context)
    return render(request, "trades/positions.html", context)


def trade_list(request: HttpRequest) -> HttpResponse:
    from apps.strategy.signal_selectors import signals_of_trades

    qs, error = _filtered(request, listing.trades_filtered)
    page = _page(request, qs)
    page.object_list = list(page.object_list)
    # Each trade links to the signal that opened it and the one that closed it (if a strategy did).
    signals = signals_of_trades(page.object_list)
    for trade in page.object_list:
        trade.entry_signal, trade.exit_signal = signals.get(trade.pk, (None, None))
    context = {
        "page": page,
        "filter_error": error,
        "strategies": listing.strategy_tags(),
        "query": _query_without_page(request),
        "sort": request.GET.get("sort") or "date",
    }
    if request.GET.get("partial"):  # the rows only: the page refreshes them on `order_filled`
        return render(request, "trades/_trade_rows.html", context)
    return render(request, "trades/trades.html", context)
