"""The /ws/live Origin check: the socket opens only from this server's own origin (host *and* port).

Channels' AllowedHostsOriginValidator compares the Origin's host name with ALLOWED_HOSTS and ignores the port.
Browsers send cookies per host, not per port, so a page served by any other program on the same host
(another local web app, a dev server) could open the live socket with the user's session. Here the Origin's
host and port must equal the Host the request came to (same origin), with the host in ALLOWED_HOSTS, or
the Origin must be listed in CSRF_TRUSTED_ORIGINS (a TLS proxy in front: its public origin)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _host_port(host: str, scheme: str) -> tuple[str, int] | None:
    domain, port = split_domain_port(host.lower())
    if not domain:
        return None
    try:
        return domain, int(port) if port else DEFAULT_PORTS.get(scheme, 80)
    except ValueError:
        return None


def origin_allowed(origin: str, host: str, scheme: str) -> bool:
    if not origin or origin == "null":
        return False
    if origin.rstrip("/") in {o.rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    try:
        parts = urlsplit(origin)
        origin_netloc = parts.netloc
    except ValueError:
        return False
    own_scheme = "https" if scheme == "wss" else "http"
    if parts.scheme != own_scheme:
        return False
    ours = _host_port(host, own_scheme)
    theirs = _host_port(origin_netloc, parts.scheme)
    if ours is None or theirs is None or ours != theirs:
        return False
    return validate_host(theirs[0], settings.ALLOWED_HOSTS)


class SameOriginValidator:
    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin", b"").decode("latin1")
            host = headers.get(b"host", b"").decode("latin1")
            if not origin_allowed(origin, host, scope.get("scheme", "ws")):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
