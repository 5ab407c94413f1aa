"""Where notification channels may send to: the services' own hosts over HTTPS, never an internal address.

A channel's URL is user input (any viewer sets up their own Slack channel), and the worker sends from inside
the installation's network: without these checks a channel is a way to reach the simulator's admin
endpoints, a cloud metadata service or any port on the machine (server-side request forgery). So:

- the URL must be ``https`` and its host one of the channel's real hosts (``NOTIFY_SLACK_HOSTS``, the host of
  ``TELEGRAM_API_BASE``);
- every address the host resolves to must be a public one: private, loopback, link-local, reserved,
  multicast and unspecified addresses are refused after DNS resolution;
- only hosts named in ``NOTIFY_ALLOW_LOCAL_HOSTS`` (empty by default; the test suite's fake servers on
  127.0.0.1) skip both rules.

A refusal is a permanent ``SendError`` whose text names no address, so the delivery log cannot be used to map
the network. (The HTTP client resolves the host again when it connects; with the host pinned to Slack's or
Telegram's own domain, a rebinding answer would need control of that domain's DNS.)
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from apps.notifications.backends.base import SendError

REFUSED = "destination not allowed"


class DestinationRefused(SendError):
    def __init__(self, message: str = REFUSED) -> None:
        super().__init__(message, retry=False)


def _local_hosts() -> set[str]:
    return {h.strip().lower() for h in settings.NOTIFY_ALLOW_LOCAL_HOSTS if h.strip()}


def url_problem(url: str, allowed_hosts: list[str]) -> str | None:
    """Why ``url`` may not be a channel's destination (no DNS lookup: for forms), or None."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return "invalid URL"
    if not host:
        return "invalid URL"
    if host in _local_hosts():
        return None if parts.scheme in ("http", "https") else "invalid URL scheme"
    if parts.scheme != "https":
        return "invalid URL scheme"
    if host not in {h.lower() for h in allowed_hosts}:
        return REFUSED
    return None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_destination(url: str, allowed_hosts: list[str]) -> None:
    """Refuse (``DestinationRefused``) a URL outside the allowed hosts or resolving to a non-public address."""
    problem = url_problem(url, allowed_hosts)
    if problem is not None:
        raise DestinationRefused(problem)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in _local_hosts():
        return
    port = parts.port or 443
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise SendError("network error (name lookup failed)") from None
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_public(a) for a in addresses):
        raise DestinationRefused()
