"""REST API of orders, fills, positions and trades (read-only), and manual trading for traders.

Reads are open to any logged-in user; writes need the trader role (`IsTraderOrReadOnly`: viewers get 403).
A write needs an `Idempotency-Key` header: a retry with the same key returns the first order. The broker
is called outside any transaction (these views are non-atomic).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.openapi import IDEMPOTENCY_KEY, RefusalSerializer, errors, query
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


_RANGE = [
    query("from", "first day YYYY-MM-DD (KST), inclusive", dt.date),
    query("to", "last day YYYY-MM-DD (KST), inclusive", dt.date),
    query("code", "6-digit stock code"),
]
_REFUSED = errors(404, _409=RefusalSerializer)


class FilteredList(ListAPIView):
    pagination_class = Pages
    filter_fn = None

    def get_queryset(self):
        try:
            return type(self).filter_fn(self.request.query_params)
        except listing.FilterError as exc:
            raise ValidationError({exc.param: exc.message}) from exc


@extend_schema_view(
    get=extend_schema(
        summary="Trade log (seed 004 §8.2)",
        parameters=[
            *_RANGE,
            query("strategy", "strategy tag"),
            query(
                "sort",
                "order of the rows (default newest first)",
                enum=["date", "+date", "-date", "pnl", "-pnl", "pnl_pct", "-pnl_pct"],
            ),
        ],
        responses={200: TradeSerializer(many=True), **errors(400)},
    )
)
class TradeListView(FilteredList):
    """GET /api/v1/trades?from=&to=&code=&strategy=&sort=&page=&page_size= (seed 004 §8.2)."""

    serializer_class = TradeSerializer
    filter_fn = staticmethod(listing.trades_filtered)


@extend_schema_view(
    get=extend_schema(
        summary="One round trip (seed 004 §8.2)", responses={200: TradeSerializer, **errors(404)}
    )
)
class TradeDetailView(RetrieveAPIView):
    serializer_class = TradeSerializer
    queryset = Trade.objects.all()


@extend_schema_view(
    get=extend_schema(
        summary="Orders, newest first",
        parameters=[
            *_RANGE,
            query("status", "an order status, or `open` for every open state"),
            query("side", "buy or sell", enum=["buy", "sell"]),
            query("strategy", "strategy tag"),
        ],
        responses={200: OrderSerializer(many=True), **errors(400)},
    ),
    post=extend_schema(
        summary="A manual buy/sell (trader)",
        description="202 with the `new` order (the orders queue sends it); the same key again → "
        "the same order. With `split_parts` > 1 or `split_by_depth`: 202 with the split parent. "
        "Refused by the executor or the risk engine → 400 with `detail`, `code`, `reasons`.",
        parameters=[IDEMPOTENCY_KEY],
        request=ManualOrderSerializer,
        examples=[
            OpenApiExample(
                "limit buy",
                {
                    "code": "005930",
                    "side": "buy",
                    "order_type": "limit",
                    "quantity": 1,
                    "price": 70000,
                },
                request_only=True,
            ),
            OpenApiExample(
                "split sell in 3",
                {
                    "code": "005930",
                    "side": "sell",
                    "quantity": 30,
                    "price": 70000,
                    "split_parts": 3,
                },
                request_only=True,
            ),
        ],
        responses={
            202: PolymorphicProxySerializer(
                component_name="OrderOrSplit",
                serializers=[OrderDetailSerializer, SplitOrderDetailSerializer],
                resource_type_field_name=None,
            ),
            **errors(_400=RefusalSerializer),
        },
    ),
)
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
    @extend_schema(
        summary="One order with its transitions and fills",
        responses={200: OrderDetailSerializer, **errors(404)},
    )
    def get(self, request: Request, pk) -> Response:
        get_object_or_404(Order, pk=pk)
        return Response(OrderDetailSerializer(listing.order_detail(pk)).data)


@non_atomic
class OrderCancelView(APIView):
    @extend_schema(
        summary="Cancel a live order (trader)",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: OrderDetailSerializer, **_REFUSED},
    )
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
    @extend_schema(
        summary="Amend the remainder of a live limit order (trader)",
        description="Returns the child order.",
        parameters=[IDEMPOTENCY_KEY],
        request=AmendSerializer,
        examples=[OpenApiExample("new price", {"price": 69900}, request_only=True)],
        responses={200: OrderDetailSerializer, **_REFUSED, **errors(400)},
    )
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


@extend_schema_view(
    get=extend_schema(
        summary="Fills, newest first",
        parameters=[
            *_RANGE,
            query("order", "an order's id", uuid.UUID),
            query("side", "buy or sell", enum=["buy", "sell"]),
        ],
        responses={200: FillSerializer(many=True), **errors(400)},
    )
)
class FillListView(FilteredList):
    """GET /api/v1/fills?order=&code=&side=&from=&to=."""

    serializer_class = FillSerializer
    filter_fn = staticmethod(listing.fills_filtered)


@extend_schema_view(
    get=extend_schema(
        summary="Split parents, newest first",
        parameters=[query("status", "a split status")],
        responses={200: SplitOrderSerializer(many=True), **errors()},
    )
)
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

    @extend_schema(
        summary="One split parent and its children",
        responses={200: SplitOrderDetailSerializer, **errors(404)},
    )
    def get(self, request: Request, pk) -> Response:
        split = split_refresh(get_object_or_404(SplitOrder, pk=pk))
        return Response(SplitOrderDetailSerializer(split).data)


@non_atomic
class SplitCancelView(APIView):
    """POST /api/v1/splits/{id}/cancel (trader, Idempotency-Key): stop the schedule, cancel the
    open children."""

    @extend_schema(
        summary="Cancel a split order (trader)",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={200: SplitOrderDetailSerializer, **_REFUSED},
    )
    def post(self, request: Request, pk) -> Response:
        split = get_object_or_404(SplitOrder, pk=pk)
        try:
            split = manual.manual_split_cancel(
                request.user, split, request.headers.get("Idempotency-Key")
            )
        except OrderRefused as exc:
            return Response({"detail": exc.reason, "code": exc.code}, status=409)
        return Response(SplitOrderDetailSerializer(split).data)
