"""REST API of orders, fills, positions and trades (read-only), and manual trading for traders.

Reads are open to any logged-in user; writes need the trader role (`IsTraderOrReadOnly`: viewers get 403).
A write needs an `Idempotency-Key` header: a retry with the same key returns the first order. The broker
is called outside any transaction (these views are non-atomic).
"""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import Pages
from apps.trades import listing, manual
from apps.trades.models import Order, SplitOrder, Trade
from apps.trades.serializers import (
    AmendSerializer,
    FillSerializer,
    ManualOrderSerializer,
    OrderDetailSerializer,
    OrderSerializer,
    SplitOrderDetailSerializer,
    SplitOrderSerializer,
    TradeSerializer,
)
from apps.trades.services.executor import OrderRefused
from apps.trades.services.split import split_refresh

non_atomic = method_decorator(transaction.non_atomic_requests, name="dispatch")


class FilteredList(ListAPIView):
    pagination_class = Pages
    filter_fn = None

    def get_queryset(self):
        try:
            return type(self).filter_fn(self.request.query_params)
        except listing.FilterError as exc:
            raise ValidationError({exc.param: exc.message}) from exc


class TradeListView(FilteredList):
    """GET /api/v1/trades?from=&to=&code=&strategy=&sort=&page=&page_size= (seed 004 §8.2)."""

    serializer_class = TradeSerializer
    filter_fn = staticmethod(listing.trades_filtered)


class TradeDetailView(RetrieveAPIView):
    serializer_class = TradeSerializer
    queryset = Trade.objects.all()


class OrderListView(FilteredList):
    """GET: orders (status|open, side, code, strategy, from, to). POST (trader): a manual buy/sell."""

    serializer_class = OrderSerializer
    filter_fn = staticmethod(listing.orders_filtered)

    @method_decorator(transaction.non_atomic_requests)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: Request) -> Response:
        data = ManualOrderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key")
        try:
            if manual.wants_split(data.validated_data):
                split = manual.manual_split_place(request.user, data.validated_data, key)
                # 202: the orders queue sends the children on the schedule; see /splits/{id}.
                return Response(SplitOrderDetailSerializer(split).data, status=202)
            order = manual.manual_order_place(request.user, data.validated_data, key)
        except OrderRefused as exc:
            return Response(
                {"detail": exc.reason, "code": exc.code, "reasons": exc.reasons},
                status=status.HTTP_400_BAD_REQUEST,
            )
        # 202: the orders queue sends it; its state follows on /ws/live and GET /orders/{id}.
        return Response(OrderDetailSerializer(listing.order_detail(order.pk)).data, status=202)


class OrderDetailView(APIView):
    def get(self, request: Request, pk) -> Response:
        get_object_or_404(Order, pk=pk)
        return Response(OrderDetailSerializer(listing.order_detail(pk)).data)


@non_atomic
class OrderCancelView(APIView):
    def post(self, request: Request, pk) -> Response:
        order = get_object_or_404(Order, pk=pk)
        try:
            order = manual.manual_order_cancel(
                request.user, order, request.headers.get("Idempotency-Key")
            )
        except OrderRefused as exc:
            return Response({"detail": exc.reason, "code": exc.code}, status=409)
        return Response(OrderDetailSerializer(listing.order_detail(order.pk)).data)


@non_atomic
class OrderAmendView(APIView):
    def post(self, request: Request, pk) -> Response:
        order = get_object_or_404(Order, pk=pk)
        data = AmendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            child = manual.manual_order_amend(
                request.user,
                order,
                data.validated_data["price"],
                request.headers.get("Idempotency-Key"),
            )
        except OrderRefused as exc:
            return Response({"detail": exc.reason, "code": exc.code}, status=409)
        return Response(OrderDetailSerializer(listing.order_detail(child.pk)).data)


class FillListView(FilteredList):
    """GET /api/v1/fills?order=&code=&side=&from=&to=."""

    serializer_class = FillSerializer
    filter_fn = staticmethod(listing.fills_filtered)


class SplitListView(ListAPIView):
    """GET /api/v1/splits?status=: split parents, newest first."""

    serializer_class = SplitOrderSerializer
    pagination_class = Pages

    def get_queryset(self):
        qs = SplitOrder.objects.order_by("-created_at")
        if value := self.request.query_params.get("status"):
            qs = qs.filter(status=value)
        return qs


class SplitDetailView(APIView):
    """GET /api/v1/splits/{id}: the parent (figures refreshed from its children) and its children."""

    def get(self, request: Request, pk) -> Response:
        split = split_refresh(get_object_or_404(SplitOrder, pk=pk))
        return Response(SplitOrderDetailSerializer(split).data)


@non_atomic
class SplitCancelView(APIView):
    """POST /api/v1/splits/{id}/cancel (trader, Idempotency-Key): stop the schedule, cancel the
    open children."""

    def post(self, request: Request, pk) -> Response:
        split = get_object_or_404(SplitOrder, pk=pk)
        try:
            split = manual.manual_split_cancel(
                request.user, split, request.headers.get("Idempotency-Key")
            )
        except OrderRefused as exc:
            return Response({"detail": exc.reason, "code": exc.code}, status=409)
        return Response(SplitOrderDetailSerializer(split).data)
