"""The bot's reply texts (translated: Korean, or English for a sender whose Telegram speaks English).
The figures come from the selectors the API and pages use."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from apps.core.templatetags.stockagent import krw

from .conf import setting

MAX_POSITIONS_LISTED = 30


def help_text(linked: bool) -> str:
    lines = [_("StockAgent 봇 명령")]
    if not linked:
        lines.append(_("먼저 웹의 텔레그램 연결 페이지에서 코드를 받아 /link 코드 를 보내세요."))
    lines += [
        "/status — " + _("자동매매 상태"),
        "/positions — " + _("보유 종목"),
        "/pnl — " + _("오늘 손익"),
        "/stop [" + _("사유") + "] — " + _("자동매매 정지 (트레이더)"),
        "/start " + _("사유") + " — " + _("자동매매 시작 (트레이더)"),
        "/flatten [" + _("사유") + "] — " + _("비상 전체 청산, 확인 필요 (트레이더)"),
        "/unlink — " + _("이 채팅 연결 해제"),
    ]
    return "\n".join(lines)


def menu() -> list[dict[str, str]]:
    """setMyCommands' list (Korean: the installation's language)."""
    return [
        {"command": "status", "description": "자동매매 상태"},
        {"command": "positions", "description": "보유 종목"},
        {"command": "pnl", "description": "오늘 손익"},
        {"command": "stop", "description": "자동매매 정지 (트레이더)"},
        {"command": "start", "description": "자동매매 시작: /start 사유 (트레이더)"},
        {"command": "flatten", "description": "비상 전체 청산, 확인 필요 (트레이더)"},
        {"command": "help", "description": "도움말"},
    ]


def not_linked() -> str:
    return _("연결되지 않은 채팅입니다. 아무것도 실행하지 않았습니다.")


def unknown() -> str:
    return _("알 수 없는 명령입니다. /help 를 보내세요.")


def failed() -> str:
    return _("명령을 처리하지 못했습니다. 기록을 확인하세요.")


def link_usage() -> str:
    return _("사용법: /link 코드 (웹의 텔레그램 연결 페이지에서 받은 코드)")


def start_usage() -> str:
    return _("시작하려면 사유를 함께 보내세요: /start 사유")


def _account() -> str:
    from apps.accounts.selectors import active_account_no

    return active_account_no()


def _state_label(state: str) -> str:
    from apps.risk.models import State

    return str(State(state).label) if state in State.values else state


def status() -> str:
    from apps.risk.present import state_dict

    s = state_dict(_account())
    lines = [
        _("자동매매 스위치: %(switch)s") % {"switch": "ON" if s["switch"] else "OFF"},
        _("위험 상태: %(state)s") % {"state": _state_label(s["state"])},
        _("신규 진입: 허용") if s["entries_allowed"] else _("신규 진입: 중단"),
    ]
    if s.get("reason"):
        lines.append(_("사유: %(reason)s") % {"reason": s["reason"]})
    lines.append(
        _("보유 %(n)s / 최대 %(max)s 종목, 오늘 손익 %(pnl)s")
        % {"n": s["positions"], "max": s["max_positions"], "pnl": krw(s["pnl"])}
    )
    return "\n".join(lines)


def positions() -> str:
    from apps.trades.listing import positions_live

    rows = positions_live(_account())
    if not rows:
        return _("보유 종목이 없습니다.")
    lines = [_("보유 %(n)s종목") % {"n": len(rows)}]
    for p in rows[:MAX_POSITIONS_LISTED]:
        rate = "" if p["return_rate"] is None else f" ({p['return_rate']:+}%)"
        lines.append(
            f"{p['code']} {p['name']} {p['qty']:,}"
            + _("주")
            + f" @ {_avg(p['avg_price'])} → {krw(p['price'])} {krw(p['pnl'])}{rate}"
        )
    if len(rows) > MAX_POSITIONS_LISTED:
        lines.append(_("… 외 %(n)s종목") % {"n": len(rows) - MAX_POSITIONS_LISTED})
    return "\n".join(lines)


def _avg(value: Any) -> str:
    """The average price is a Decimal (fills at different prices): two places at most, like the page."""
    if value is None:
        return "-"
    text = f"{Decimal(value):,.2f}".rstrip("0").rstrip(".")
    return _("%(amount)s원") % {"amount": text}


def pnl() -> str:
    from apps.risk.present import state_dict

    s = state_dict(_account())
    lines = [
        _("오늘 손익 (%(day)s)") % {"day": s["day"]},
        _("실현: %(v)s") % {"v": krw(s["realized_pnl"])},
        _("평가: %(v)s") % {"v": krw(s["unrealized_pnl"])},
        _("합계: %(v)s") % {"v": krw(s["pnl"])},
    ]
    if s["loss_budget"]:
        lines.append(
            _("손실 한도 %(budget)s 중 남은 %(left)s")
            % {"budget": krw(s["loss_budget"]), "left": krw(s["loss_budget_left"])}
        )
    return "\n".join(lines)


def switched(*, on: bool, changed: bool) -> str:
    from apps.risk.services.gate import gate_status

    gate = gate_status()
    if on:
        text = _("자동매매를 시작했습니다.") if changed else _("자동매매는 이미 켜져 있습니다.")
        if not gate["entries_allowed"]:
            text += " " + _("위험 상태가 %(state)s 이므로 신규 진입은 아직 중단입니다.") % {
                "state": _state_label(gate["state"])
            }
        return text
    text = _("자동매매를 정지했습니다.") if changed else _("자동매매는 이미 꺼져 있습니다.")
    return text + " " + _("청산(매도)은 계속 허용됩니다.")


def flatten_ask(code: str) -> str:
    return _(
        "보유 종목을 모두 시장가에 가깝게 매도하고 미체결 주문을 모두 취소합니다. "
        "%(seconds)s초 안에 /confirm %(code)s 를 보내야 실행됩니다."
    ) % {"seconds": setting("TELEGRAM_CONFIRM_SECONDS"), "code": code}


def flatten_started(run: Any, created: bool) -> str:
    if created:
        return _(
            "비상 청산을 시작했습니다 (실행 %(id)s). 자동매매는 정지되었고, 주문 작업자가 매도합니다."
        ) % {"id": run.id[:8]}
    return _("비상 청산이 이미 진행 중입니다 (실행 %(id)s, 상태 %(status)s).") % {
        "id": run.id[:8],
        "status": run.status,
    }
