"""Korean message text for notifications (one place, so every channel says the same thing)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from apps.core.templatetags.stockagent import krw, kst, signed_rate


def format_condition_event(
    *,
    entered: bool,
    condition_name: str,
    stock_name: str,
    code: str,
    price: int,
    change_rate: Decimal,
    at: datetime,
) -> tuple[str, str]:
    """Title and body for a stock entering (``entered``) or leaving a condition search.

    >>> format_condition_event(entered=True, condition_name="급등주", stock_name="삼성전자", code="005930",
    ...     price=71500, change_rate=Decimal("3.25"), at=...)  # doctest: +SKIP
    ('[조건 편입] 급등주 · 삼성전자(005930)', '삼성전자 (005930)\\n현재가 71,500원 (+3.25%)\\n...')
    """
    label = "조건 편입" if entered else "조건 이탈"
    title = f"[{label}] {condition_name} · {stock_name}({code})"
    body = "\n".join(
        [
            f"{stock_name} ({code})",
            f"현재가 {krw(price)} ({signed_rate(change_rate)})",
            f"조건 {condition_name}",
            f"시각 {kst(at)} KST",
        ]
    )
    return title, body
