"""Korean message text for notifications (one place, so every channel says the same thing)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from apps.core.templatetags.stockagent import kst, signed_rate
from apps.notifications.alerts import ConditionAlert

PRICE_UNKNOWN = "현재가 확인 전"


def krw(value: int) -> str:
    # Messages are Korean whatever language the page that caused them was in (the pages' krw follows it).
    return f"{value:,}원"


TITLE_MAX = 200  # Notification.title


def price_text(price: int | None, change_rate: Decimal | None) -> str:
    """``71,500원 (+3.25%)``; ``71,500원`` without a rate; ``현재가 확인 전`` without a price."""
    text = PRICE_UNKNOWN if price is None else krw(price)
    if change_rate is not None:
        text += f" ({signed_rate(change_rate)})"
    return text


def format_condition_event(
    *,
    entered: bool,
    condition_name: str,
    stock_name: str,
    code: str,
    price: int | None,
    change_rate: Decimal | None,
    at: datetime,
) -> tuple[str, str]:
    """Title and body for a stock entering (``entered``) or leaving a condition search.

    >>> format_condition_event(entered=True, condition_name="급등주", stock_name="삼성전자", code="005930",
    ...     price=71500, change_rate=Decimal("3.25"), at=...)  # doctest: +SKIP
    ('[조건 편입] 급등주 · 삼성전자(005930)', '삼성전자 (005930)\\n현재가 71,500원 (+3.25%)\\n...')
    """
    label = "조건 편입" if entered else "조건 이탈"
    title = f"[{label}] {condition_name} · {stock_name}({code})"
    quote = price_text(price, change_rate)
    body = "\n".join(
        [
            f"{stock_name} ({code})",
            quote if price is None else f"현재가 {quote}",
            f"조건 {condition_name}",
            f"시각 {kst(at)} KST",
        ]
    )
    return title, body


def format_condition_alert(alert: ConditionAlert) -> tuple[str, str]:
    """``format_condition_event`` for one ``ConditionAlert``."""
    return format_condition_event(
        entered=alert.entered,
        condition_name=alert.condition_name,
        stock_name=alert.stock_name,
        code=alert.code,
        price=alert.price,
        change_rate=alert.change_rate,
        at=alert.at,
    )


def _counts(alerts: Sequence[ConditionAlert]) -> str:
    entries = sum(1 for a in alerts if a.entered)
    exits = len(alerts) - entries
    parts = ([f"편입 {entries}종목"] if entries else []) + ([f"이탈 {exits}종목"] if exits else [])
    return " · ".join(parts)


def format_condition_batch(alerts: Sequence[ConditionAlert], max_lines: int) -> tuple[str, str]:
    """Title and body for several alerts reported together (one poll cycle, one realtime burst).

    Title: ``[조건검색] 급등주 편입 48종목 · 이탈 2종목``; for several conditions one part each, joined by
    `` / `` (or, if that is too long, ``[조건검색] 조건 3개 편입 …``). Body: one line per stock, grouped by
    condition (entries before exits), ``• 편입 삼성전자(005930) 71,500원 (+3.25%) 09:12:05`` (the condition
    name is added to each line when the batch spans conditions), at most ``max_lines`` lines and then
    ``… 외 N종목``.
    """
    groups: dict[tuple[str, str], list[ConditionAlert]] = {}
    for alert in alerts:
        groups.setdefault((alert.condition_seq, alert.condition_name), []).append(alert)
    parts = [f"{name} {_counts(members)}" for (_, name), members in groups.items()]
    title = "[조건검색] " + " / ".join(parts)
    if len(title) > TITLE_MAX:
        title = f"[조건검색] 조건 {len(groups)}개 {_counts(alerts)}"
    spans_conditions = len(groups) > 1
    ordered = [
        a
        for members in groups.values()
        for a in sorted(members, key=lambda a: not a.entered)  # stable: entries first
    ]
    lines = []
    for a in ordered[:max_lines]:
        label = "편입" if a.entered else "이탈"
        where = f" [{a.condition_name}]" if spans_conditions else ""
        quote = price_text(a.price, a.change_rate)
        lines.append(f"• {label}{where} {a.stock_name}({a.code}) {quote} {kst(a.at, '%H:%M:%S')}")
    if len(ordered) > max_lines:
        lines.append(f"… 외 {len(ordered) - max_lines}종목")
    return title, "\n".join(lines)
