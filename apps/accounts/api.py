"""REST API of the accounts app (thin): balance and positions (seed 004 §8.2), the accounts (keys
write-only), switching the active one and a sync on demand.

Reads are open to any logged-in user; writes need the trader role (`IsTraderOrReadOnly`). The broker is
called only by the sync, never inside a database transaction.
"""

from __future__ import annotations

from django.apps import apps as django_apps
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListCreateAPIView, RetrieveUpdateAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.models import BrokerAccount, SnapshotSource
from apps.accounts.serializers import (
    AccountSerializer,
    BalanceSerializer,
    HoldingPositionSerializer,
)
from apps.broker.contract import BrokerError
from apps.core.openapi import errors

_POSITION = inline_serializer(
    "Position",
    {
        "code": serializers.CharField(),
        "name": serializers.CharField(),
        "qty": serializers.IntegerField(),
        "sellable": serializers.IntegerField(),
        "avg_price": serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True),
        "price": serializers.IntegerField(allow_null=True),
        "cost": serializers.IntegerField(allow_null=True),
        "pnl": serializers.IntegerField(allow_null=True),
        "return_rate": serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True),
        "realized_pnl": serializers.IntegerField(required=False),
        "stop_price": serializers.IntegerField(allow_null=True, required=False),
        "entry_time": serializers.DateTimeField(allow_null=True, required=False),
        "strategy_tag": serializers.CharField(allow_blank=True, required=False),
    },
    many=True,
)
_POSITIONS = inline_serializer(
    "Positions",
    {
        "source": serializers.ChoiceField(["positions", "broker_snapshot"]),
        "as_of": serializers.DateTimeField(allow_null=True, required=False),
        "results": _POSITION,
    },
)

non_atomic = method_decorator(transaction.non_atomic_requests, name="dispatch")


class BalanceView(APIView):
    """GET: the active account's latest balance snapshot (예수금, 총 평가액, 일일 손익)."""

    @extend_schema(
        summary="Balance (seed 004 §8.2)",
        description="The active account's latest balance snapshot; 404 before the first sync.",
        responses={200: BalanceSerializer, **errors(404)},
    )
    def get(self, request: Request) -> Response:
        snapshot = selectors.balance_latest()
        if snapshot is None:
            return Response({"detail": "no balance snapshot yet"}, status=status.HTTP_404_NOT_FOUND)
        return Response(BalanceSerializer(snapshot).data)


@non_atomic
class BalanceSyncView(APIView):
    """POST (trader): ask the broker now and store a snapshot."""

    @extend_schema(
        summary="Sync the balance now (trader)",
        request=None,
        responses={201: BalanceSerializer, **errors(404, 503)},
    )
    def post(self, request: Request) -> Response:
        try:
            snapshot = services.balance_sync(source=SnapshotSource.MANUAL)
        except BrokerError as exc:
            return Response(
                {"detail": f"broker unavailable: {type(exc).__name__}"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        if snapshot is None:
            return Response({"detail": "no broker account"}, status=status.HTTP_404_NOT_FOUND)
        return Response(BalanceSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class PositionsView(APIView):
    """GET: what the active account holds: the trades app's positions (updated from fills) with the latest
    price when it is installed, else the broker's holdings in the latest snapshot."""

    @extend_schema(
        summary="Positions (seed 004 §8.2)",
        description="From the books (`source: positions`); without the trades app, the broker's "
        "holdings of the last snapshot (`source: broker_snapshot`).",
        responses={200: _POSITIONS, **errors()},
    )
    def get(self, request: Request) -> Response:
        if django_apps.is_installed("apps.trades"):
            from apps.trades.listing import positions_live

            return Response({"source": "positions", "results": positions_live()})
        snapshot = selectors.balance_latest()
        rows = selectors.holdings_latest()
        return Response(
            {
                "source": "broker_snapshot",
                "as_of": snapshot.taken_at if snapshot else None,
                "results": HoldingPositionSerializer(rows, many=True).data,
            }
        )


@extend_schema_view(
    get=extend_schema(
        summary="Broker accounts", responses={200: AccountSerializer(many=True), **errors()}
    ),
    post=extend_schema(
        summary="Add a broker account (trader)", responses={201: AccountSerializer, **errors(400)}
    ),
)
class AccountListView(ListCreateAPIView):
    serializer_class = AccountSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.accounts_list()

    def perform_create(self, serializer: AccountSerializer) -> None:
        serializer.instance = services.account_save(
            BrokerAccount(**serializer.validated_data), user=self.request.user
        )


@extend_schema_view(
    get=extend_schema(
        summary="One broker account", responses={200: AccountSerializer, **errors(404)}
    ),
    put=extend_schema(
        summary="Change a broker account (trader)",
        responses={200: AccountSerializer, **errors(400, 404)},
    ),
    patch=extend_schema(
        summary="Change a broker account (trader)",
        responses={200: AccountSerializer, **errors(400, 404)},
    ),
)
class AccountDetailView(RetrieveUpdateAPIView):
    serializer_class = AccountSerializer

    def get_queryset(self):
        return selectors.accounts_list()

    def perform_update(self, serializer: AccountSerializer) -> None:
        account = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(account, name, value)
        services.account_save(account, user=self.request.user)


class AccountActivateView(APIView):
    @extend_schema(
        summary="Make an account the active one (trader)",
        description="409 while orders are open.",
        request=None,
        responses={200: AccountSerializer, **errors(404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        account = get_object_or_404(BrokerAccount, pk=pk)
        try:
            account = services.account_activate(account, user=request.user)
        except services.AccountError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(AccountSerializer(account, context={"request": request}).data)
