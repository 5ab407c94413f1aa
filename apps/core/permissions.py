"""Roles: a viewer reads; a trader (permission core.trade) may also change things."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

TRADE_PERMISSION = "core.trade"


def can_trade(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(TRADE_PERMISSION))


class IsTraderOrReadOnly(BasePermission):
    """Any logged-in user may read; writes need the trader role."""

    message = "이 작업은 트레이더 권한이 필요합니다 (trader role required)."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or can_trade(request.user)
