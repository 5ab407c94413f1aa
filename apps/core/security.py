"""Throttling of the ways in: the login lock-out page (django-axes), the API token throttle and the API rate
limits (DRF throttles, counted in the shared cache so every web process sees the same counts)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.throttling import UserRateThrottle

from apps.core.templatetags.stockagent import kst


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """django-axes' answer to a locked-out login: the login page with when to retry, HTTP 429."""
    cool_off = settings.AXES_COOLOFF_TIME
    retry_at = timezone.now() + cool_off
    minutes = max(1, round(cool_off.total_seconds() / 60))
    response = render(
        request,
        "registration/login.html",
        {"locked_until": kst(retry_at), "locked_minutes": minutes, "next": ""},
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def token_digest(raw: str) -> str:
    """What the database keeps of an API token: SHA-256, cut to the 40 characters of DRF's key column.
    A token is 160 random bits, so a fast hash is enough (no dictionary to try); a leaked table or backup
    no longer hands out working tokens."""
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def issue_token(user) -> str:
    """A new API token for ``user`` (replacing any old one). Returns the token: shown once, stored hashed."""
    from rest_framework.authtoken.models import Token

    raw = secrets.token_hex(20)
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        Token.objects.create(user=user, key=token_digest(raw))
    return raw


class ThrottledTokenAuthentication(TokenAuthentication):
    """Token auth that counts wrong tokens per client address: after ``API_TOKEN_FAILURE_LIMIT`` wrong tokens
    within ``API_TOKEN_FAILURE_WINDOW_SECONDS`` every token from that address is refused with 429 and
    Retry-After until the window ends (guessing tokens is then hopeless). Tokens are looked up by their
    digest (``token_digest``): the table holds no usable token."""

    def authenticate_credentials(self, key: str):
        return super().authenticate_credentials(token_digest(key))

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("token "):
            return None
        key = f"stockagent:api-token-failures:{_client_ip(request)}"
        window = settings.API_TOKEN_FAILURE_WINDOW_SECONDS
        if (cache.get(key) or 0) >= settings.API_TOKEN_FAILURE_LIMIT:
            raise Throttled(
                wait=window,
                detail=f"잘못된 토큰이 너무 많습니다. {window}초 후에 다시 시도하세요 "
                f"(too many invalid tokens; retry in {window} s).",
            )
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            if cache.add(key, 1, timeout=window) is False:
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, timeout=window)
            raise


class NotifyTestThrottle(UserRateThrottle):
    """Test sends of notification channels, per user (a flood of them once stalled the workers)."""

    scope = "notify_test"
