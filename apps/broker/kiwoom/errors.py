"""The translation of Kiwoom's error envelope into the contract's exceptions.

Kiwoom answers most failures with HTTP 200 and a small `return_code` class; the specific 4-digit code
is embedded in `return_msg` (`…[8005:…]`, `[2000](855056:…)`, WS `[CODE=8005, MESSAGE=…]`). Callers
only ever see these classes with a clean code and message; the raw envelope stays inside.
"""

from __future__ import annotations

import re

from apps.broker.contract.errors import (
    AmbiguousOutcome,
    AuthExpired,
    AuthFailed,
    BrokerError,
    BrokerUnavailable,
    InvalidRequest,
    OrderRejected,
    RateLimited,
)

__all__ = [
    "AmbiguousOutcome",
    "AuthExpired",
    "AuthFailed",
    "BrokerError",
    "BrokerUnavailable",
    "InvalidRequest",
    "OrderRejected",
    "RateLimited",
    "error_from_envelope",
    "extract_code",
]

# Token-class codes after which a reissue and one repeat of a READ is worth trying (PROTOCOL §2.1).
REISSUE_CODES = frozenset({"8005", "8031", "8103"})
_TOKEN_CODES = REISSUE_CODES | {"8003", "8006", "8009", "8010"}
_CREDENTIAL_CODES = frozenset({"8001", "8002", "8011", "8012", "8020", "8030", "8040", "8050"})
_THROTTLE_CODES = frozenset({"1687", "1700", "1701", "1702"})
_SERVER_CODES = frozenset({"1999"})

_BRACKET = re.compile(r"\[(\d{3,6}):\s*([^\]]*)\]")
_WS_CODE = re.compile(r"CODE=(\w+)(?:,\s*MESSAGE=([^\]]*))?")
_BUSINESS = re.compile(r"\[(\d{3,6})\]\s*\(([A-Za-z0-9]+):\s*([^)]*)\)")


def extract_code(msg: str) -> tuple[str | None, str]:
    """Pull the specific code and its text out of a Kiwoom `return_msg`."""
    if m := _BUSINESS.search(msg):
        return m.group(2), m.group(3).strip()
    if m := _BRACKET.search(msg):
        return m.group(1), m.group(2).strip() or msg.split("[", 1)[0].strip()
    if m := _WS_CODE.search(msg):
        return m.group(1), (m.group(2) or "").strip() or msg.split("[", 1)[0].strip()
    return None, msg.strip()


def error_from_envelope(status: int, return_code: object, return_msg: str) -> BrokerError:
    """Map HTTP status + `return_code` + embedded code to one of our exceptions."""
    code, text = extract_code(return_msg or "")
    try:
        rc = int(str(return_code).strip())
    except ValueError:
        rc = -1
    if status == 429 or (rc == 5 and code != "1634") or code in _THROTTLE_CODES:
        return RateLimited(text or "rate limited", code or "1700")
    if code in _TOKEN_CODES:
        return AuthExpired(text, code)
    if code in _CREDENTIAL_CODES:
        return AuthFailed(text, code)
    if rc == 3:
        # Class 3 without a recognisable code: treat as a token problem, the recoverable reading.
        return AuthExpired(text, code)
    if rc == 20:
        return OrderRejected(code or "2000", text)
    if status == 401:
        return AuthExpired(text or "unauthorized", code)
    if status >= 500 or code in _SERVER_CODES:
        return BrokerUnavailable(text or f"HTTP {status}", code)
    return InvalidRequest(text or f"return_code {rc}", code)
