"""Connection settings for one Kiwoom app key (real host, Kiwoom's mock host or the simulator)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .auth import app_key_hint

REAL_BASE_URL = "https://api.kiwoom.com"
REAL_WS_URL = "wss://api.kiwoom.com:10000/api/dostk/websocket"
MOCK_BASE_URL = "https://mockapi.kiwoom.com"
MOCK_WS_URL = "wss://mockapi.kiwoom.com:10000/api/dostk/websocket"


@dataclass(frozen=True)
class KiwoomConfig:
    app_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    account: str = ""
    base_url: str = REAL_BASE_URL
    ws_url: str = REAL_WS_URL
    is_mock: bool = False
    # The one request budget every process shares (orders included; priorities decide who goes).
    rate_query_per_sec: float = 5.0
    # Requests that may go back to back. 2 lets a late waiter catch up with the schedule instead
    # of losing its slot, and stays well under the server's observed burst.
    rate_burst: int = 2
    timeout_seconds: float = 10.0  # one HTTP exchange
    # Whole sync calls (rate-limit wait + token + request + pages): past this an order call is
    # cancelled and AmbiguousOutcome, a read BrokerUnavailable.
    order_call_timeout: float = 15.0
    read_call_timeout: float = 90.0
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "stockagent:kiwoom"
    # Retries of READS after a throttle reply; orders are never retried.
    max_throttle_retries: int = 3
    throttle_backoff_base: float = 0.5

    @property
    def query_rate(self) -> float:
        # Kiwoom's published policy: 1 query/s on the mock host.
        return min(self.rate_query_per_sec, 1.0) if self.is_mock else self.rate_query_per_sec

    @property
    def app_key_hint(self) -> str:
        return app_key_hint(self.app_key)

    def __repr__(self) -> str:
        return (
            f"KiwoomConfig(app_key={self.app_key_hint!r}, base_url={self.base_url!r}, "
            f"is_mock={self.is_mock})"
        )
