"""The backend contract and the one outbound HTTP helper every HTTP channel uses."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings

if TYPE_CHECKING:
    from apps.notifications.models import NotificationChannel


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message where the channel can carry one (see `apps.notifications.attachments`)."""

    filename: str
    content_type: str
    content: bytes

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True)
class OutgoingMessage:
    """What a channel sends: a Korean title and body (plain text), and any attachments."""

    title: str
    body: str
    key: str = ""  # the delivery's key, the same on every attempt (email: the Message-ID)
    attachments: tuple[Attachment, ...] = ()

    def as_text(self, limit: int | None = None) -> str:
        """Title and body; with `limit`, cut at a line break to fit a channel's maximum length (a long
        digest must still arrive: its head, then a note that the rest is in the delivery log)."""
        text = f"{self.title}\n{self.body}" if self.body else self.title
        if limit is None or len(text) <= limit:
            return text
        room = limit - len(TRUNCATED_NOTE)
        cut = text.rfind("\n", 0, room)
        return text[: cut if cut > 0 else room] + TRUNCATED_NOTE


TRUNCATED_NOTE = "\n… (길어서 생략: 전체 내용은 StockAgent 알림 기록에 있습니다)"


class SendError(Exception):
    """A send that did not succeed. ``retry`` is false for errors a retry cannot fix (bad webhook, 4xx).

    The message must be secret-free: it is stored in the delivery log and logged.
    """

    def __init__(self, message: str, *, retry: bool = True, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        # The request went out and no answer came: the receiver may have taken it.
        self.maybe_delivered = maybe_delivered


class BaseBackend:
    kind: str = ""

    def send(self, channel: NotificationChannel, message: OutgoingMessage) -> None:
        raise NotImplementedError


logger = logging.getLogger(__name__)
NETWORK_ERROR = "network error"
NO_REPLY = "network error (no reply)"  # sent, but the answer never came: maybe delivered

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _http_client() -> httpx.Client:
    """One client per process: reuses TLS setup and keep-alive connections (httpx.Client is thread-safe)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                follow_redirects=False,
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
            )
        return _client


def post_json(url: str, payload: dict[str, Any], *, allowed_hosts: list[str]) -> httpx.Response:
    """POST JSON (see `post`)."""
    return post(url, allowed_hosts=allowed_hosts, json=payload)


def post(url: str, *, allowed_hosts: list[str], **request: Any) -> httpx.Response:
    """POST (``json=`` or ``data=``/``files=``) with the notification timeout, to an allowed public host only (``egress``).

    Transport errors become one generic SendError: httpx messages can contain the URL (our URLs contain
    secrets), and telling a refused connection from a timeout would let a user map ports. The exception
    class goes to the server log only."""
    from apps.notifications.backends.egress import check_destination

    check_destination(url, allowed_hosts)
    timeout = httpx.Timeout(settings.NOTIFY_HTTP_TIMEOUT_SECONDS)
    try:
        return _http_client().post(url, timeout=timeout, **request)
    except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout, httpx.ConnectError) as exc:
        logger.warning("notification send: %s", type(exc).__name__)
        raise SendError(NETWORK_ERROR) from None  # not (fully) sent
    except (httpx.TimeoutException, httpx.ReadError, httpx.RemoteProtocolError) as exc:
        logger.warning("notification send: %s (no reply)", type(exc).__name__)
        raise SendError(NO_REPLY, maybe_delivered=True) from None
    except httpx.UnsupportedProtocol:
        raise SendError("invalid URL scheme", retry=False) from None
    except (httpx.InvalidURL, httpx.TooManyRedirects):
        raise SendError("invalid URL", retry=False) from None
    except httpx.HTTPError as exc:
        logger.warning("notification send: %s", type(exc).__name__)
        raise SendError(NETWORK_ERROR) from None
    except ValueError:
        raise SendError("invalid URL", retry=False) from None


def raise_for_status(response: httpx.Response) -> None:
    """2xx passes; 429 and 5xx are retried; any other status is permanent."""
    code = response.status_code
    if 200 <= code < 300:
        return
    retry = code == 429 or code >= 500
    raise SendError(f"HTTP {code}", retry=retry)
