"""The news service's line on the health report: ok / unavailable (fail closed) / not configured."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from apps.core.models import HealthStatus

STATUS = {
    "ok": HealthStatus.OK,
    "unavailable": HealthStatus.DOWN,
    "not_configured": HealthStatus.UNKNOWN,
    "unknown": HealthStatus.UNKNOWN,
}

MESSAGES = [
    (re.compile(r"^not configured$"), _("설정되지 않음")),
    (
        re.compile(r"^unavailable \(fail closed\): (?P<why>.*)$"),
        _("연결 불가 — 뉴스 조건 진입 중단 (%(why)s)"),
    ),
    (re.compile(r"^no call yet$"), _("아직 조회 없음")),
]


def news_probe(live: bool) -> tuple[str, str]:
    from .scores import news_state

    state, message = news_state(probe=live)
    return STATUS[state], message


def register() -> None:
    from apps.core.health import register_component

    register_component("news", _("뉴스 서비스"), news_probe, MESSAGES)
