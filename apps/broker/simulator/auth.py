"""The simulator's credentials, tokens (au10001/au10002) and Kiwoom error envelopes (framework-free)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .dto import SimRejection


# --------------------------------------------------------------------------- credentials
@dataclass(frozen=True)
class Credential:
    app_key: str
    secret_key: str = field(repr=False)
    account: str
    starting_cash: int = 100_000_000

    def __post_init__(self) -> None:
        if not (len(self.account) == 10 and self.account.isdigit()):
            raise ValueError(f"account for app key {self.app_key!r} must be 10 digits")


DEMO_APP_KEY = "SIMULATOR-DEMO-APPKEY"
DEMO_SECRET_KEY = "SIMULATOR-DEMO-SECRET"  # noqa: S105 - public demo credential, by design
DEMO_ACCOUNT = "5000000010"
DEMO_CREDENTIAL = Credential(DEMO_APP_KEY, DEMO_SECRET_KEY, DEMO_ACCOUNT)


@dataclass
class IssuedToken:
    token: str = field(repr=False)
    app_key: str
    account: str
    expires_at: datetime  # aware UTC, wall clock


class TokenStore:
    """Issued tokens. Expiry runs on the wall clock: clients schedule re-issue by their own clock."""

    def __init__(
        self,
        credentials: tuple[Credential, ...],
        ttl: timedelta = timedelta(hours=24),
        invalidate_previous: bool = True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.credentials = {c.app_key: c for c in credentials}
        self.ttl = ttl
        # Kiwoom reportedly invalidates the earlier token of an app key on re-issue (one report);
        # modelling it is the safer reading because it punishes clients that issue concurrently.
        self.invalidate_previous = invalidate_previous
        self.now = now
        self._by_token: dict[str, IssuedToken] = {}

    def issue(self, app_key: str, secret_key: str) -> IssuedToken | None:
        cred = self.credentials.get(app_key)
        if cred is None or not secrets.compare_digest(cred.secret_key, secret_key):
            return None
        if self.invalidate_previous:
            self.invalidate(app_key)
        issued = IssuedToken(
            token=secrets.token_urlsafe(64),  # 86 URL-safe characters, like the observed tokens
            app_key=app_key,
            account=cred.account,
            expires_at=self.now() + self.ttl,
        )
        self._by_token[issued.token] = issued
        return issued

    def check_pair(self, app_key: str, secret_key: str) -> bool:
        cred = self.credentials.get(app_key)
        return cred is not None and secrets.compare_digest(cred.secret_key, secret_key)

    def validate(self, token: str) -> IssuedToken | None:
        issued = self._by_token.get(token)
        if issued is None:
            return None
        if issued.expires_at <= self.now():
            del self._by_token[token]
            return None
        return issued

    def revoke(self, token: str) -> bool:
        return self._by_token.pop(token, None) is not None

    def invalidate(self, app_key: str | None = None) -> int:
        doomed = [t for t, i in self._by_token.items() if app_key is None or i.app_key == app_key]
        for t in doomed:
            del self._by_token[t]
        return len(doomed)


# --------------------------------------------------------------------------- errors
class KiwoomError(Exception):
    """A Kiwoom-style error answer: HTTP status + return_code + bracketed return_msg."""

    def __init__(self, return_code: int, return_msg: str, status: int = 200) -> None:
        super().__init__(return_msg)
        self.return_code = return_code
        self.return_msg = return_msg
        self.status = status


# The class number Kiwoom puts on 15xx/19xx input errors was never observed (PROTOCOL.md §11);
# 2 ("입력 값 오류") is the documented class for input errors, so that is what we send.
INPUT_ERROR = 2
AUTH_ERROR = 3
THROTTLED = 5
BUSINESS_ERROR = 20


def input_error(code: int, text: str) -> KiwoomError:
    return KiwoomError(INPUT_ERROR, f"입력 값 오류입니다[{code}:{text}]")


def auth_error(code: int, text: str) -> KiwoomError:
    return KiwoomError(AUTH_ERROR, f"인증에 실패했습니다[{code}:{text}]")


def bad_token() -> KiwoomError:
    return auth_error(8005, "Token이 유효하지 않습니다")


def missing_field(name: str) -> KiwoomError:
    return input_error(1511, f"필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터={name}")


def bad_field(name: str, why: str) -> KiwoomError:
    return input_error(1517, f"입력 값 형식이 올바르지 않습니다. 파라미터={name} 실패사유={why}")


def business_error(code: str, text: str) -> KiwoomError:
    return KiwoomError(BUSINESS_ERROR, f"[2000]({code}:{text})")


def _from_rejection(rej: SimRejection) -> KiwoomError:
    """Engine refusals: 19xx symbol errors are input errors, everything else a host rejection."""
    msg = rej.message or str(rej)
    if rej.code.startswith("19") and rej.code.isdigit():
        return input_error(
            int(rej.code), msg.split(":", 1)[-1].rstrip(")]") if msg.startswith("[") else msg
        )
    return KiwoomError(BUSINESS_ERROR, msg if msg.startswith("[") else f"[2000]({rej.code}:{msg})")


# --------------------------------------------------------------------------- config
