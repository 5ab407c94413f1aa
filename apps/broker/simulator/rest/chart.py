"""chart TRs: ka10080 minute bars, ka10081 daily bars (cont-yn/next-key paging)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from .. import encode as E
from ..server import (
    RestContext,
    RestResult,
    bad_field,
)
from .common import DAY_PAGE, MINUTE_PAGE, MINUTE_SCOPES, _int_field, _market, _opt, _quote, _req


def _cursor_time(key: str) -> datetime | None:
    try:
        return datetime.strptime(key, "%Y%m%d%H%M%S").replace(tzinfo=E.KST)
    except ValueError:
        return None


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y%m%d").replace(tzinfo=E.KST).date()


def ka10080(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    q = _quote(ctx, body)
    scope = _int_field(body, "tic_scope")
    if scope not in MINUTE_SCOPES:
        raise bad_field("tic_scope", "지원하지 않는 틱범위입니다")
    _req(body, "upd_stkpc_tp")
    before: datetime | None = None
    # base_dt is documented as an optional start date but one measurement says it is ignored;
    # honouring it ("newest day returned") is the documented, safer reading.
    base_dt = _opt(body, "base_dt")
    if base_dt:
        try:
            day = datetime.strptime(base_dt, "%Y%m%d").replace(tzinfo=E.KST)
        except ValueError as exc:
            raise bad_field("base_dt", "YYYYMMDD 형식이 아닙니다") from exc
        before = day + timedelta(days=1)
    if ctx.cont_yn == "Y" and ctx.next_key:
        # The cursor is the START of the oldest bar already sent: bars strictly before it next.
        before = _cursor_time(ctx.next_key)
        if before is None:
            raise bad_field("next-key", "연속조회키가 올바르지 않습니다")
    bars = _market(ctx).minute_bars(q.code, scope, before, MINUTE_PAGE + 1)
    page, more = bars[:MINUTE_PAGE], len(bars) > MINUTE_PAGE
    rows = [
        {
            # Kiwoom's minute-bar label is not documented; the simulator uses the bar's END
            # time, like the KRX minute files and HTS charts (the first bar of a day is 09:01).
            "cur_prc": E.signed_price(b.close, b.prev_close),
            "trde_qty": str(b.volume),
            "cntr_tm": E.yyyymmddhhmmss(b.time + timedelta(minutes=b.minutes)),
            "open_pric": E.signed_price(b.open, b.prev_close),
            "high_pric": E.signed_price(b.high, b.prev_close),
            "low_pric": E.signed_price(b.low, b.prev_close),
            "acc_trde_qty": str(b.cum_volume),
            "pred_pre": E.arith(b.close - b.prev_close),
            "pred_pre_sig": E.sign_code(b.close, b.prev_close),
        }
        for b in page
    ]
    return RestResult(
        {"stk_cd": q.code, "stk_min_pole_chart_qry": rows},
        cont_yn="Y" if more else "N",
        next_key=E.yyyymmddhhmmss(page[-1].time) if more else "",
    )


def ka10081(ctx: RestContext, body: dict[str, Any]) -> RestResult:
    q = _quote(ctx, body)
    base_dt = _req(body, "base_dt")
    try:
        end = _day(base_dt)
    except ValueError as exc:
        raise bad_field("base_dt", "YYYYMMDD 형식이 아닙니다") from exc
    _req(body, "upd_stkpc_tp")
    if ctx.cont_yn == "Y" and ctx.next_key:
        try:
            end = _day(ctx.next_key) - timedelta(days=1)
        except ValueError as exc:
            raise bad_field("next-key", "연속조회키가 올바르지 않습니다") from exc
    days = _market(ctx).daily_bars(q.code, end, DAY_PAGE + 1)
    page, more = days[:DAY_PAGE], len(days) > DAY_PAGE
    rows = [
        {
            "cur_prc": str(d.close),
            "trde_qty": str(d.volume),
            "trde_prica": str(E.millions(d.value)),
            "dt": E.date8(d.date),
            "open_pric": str(d.open),
            "high_pric": str(d.high),
            "low_pric": str(d.low),
            "pred_pre": E.arith(d.close - d.prev_close) if d.prev_close else "0",
            "pred_pre_sig": E.sign_code(d.close, d.prev_close),
            "trde_tern_rt": E.pct(d.turnover_pct),
        }
        for d in page
    ]
    return RestResult(
        {"stk_cd": q.code, "stk_dt_pole_chart_qry": rows},
        cont_yn="Y" if more else "N",
        next_key=E.date8(page[-1].date) if more else "",
    )
