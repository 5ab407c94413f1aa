"""The broker layer's exceptions: every backend translates its vendor's errors into these.

`code` carries the vendor's specific error code when one is known (for logs and tests only);
callers branch on the class, never on the code.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousOutcome",
    "AuthExpired",
    "AuthFailed",
    "BrokerError",
    "BrokerUnavailable",
    "InvalidRequest",
    "OrderRejected",
    "RateLimited",
]


class BrokerError(Exception):
    """Base of every error the broker layer raises. `code` is the vendor's specific code, if known."""

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code else self.message


class RateLimited(BrokerError):
    """The broker throttled us (HTTP 429 or its own throttle reply)."""


class AuthFailed(BrokerError):
    """Credentials refused (bad key pair, wrong host mode, IP not registered). Not retryable."""


class AuthExpired(AuthFailed):
    """The token was refused. A fresh token may fix it."""


class InvalidRequest(BrokerError):
    """The broker rejected the request's shape or values (input errors, unknown symbol)."""


class OrderRejected(BrokerError):
    """The trading host refused an order."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)


class BrokerUnavailable(BrokerError):
    """The broker could not be reached in time or answered garbage; nothing was done."""


class AmbiguousOutcome(BrokerError):
    """An order/amend/cancel may or may not have been done (reply lost, or the call ran out of
    time): reconcile, never blindly retry."""
