"""Learning metrics and reports on the trade log: exact figures, the after-close job on a simulated close
delivered to a local fake Slack (and Telegram/email with the chart), idempotency, bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.notifications.models import Delivery, Notification
from apps.notifications.tests.factories import (
    EmailChannelFactory,
    SlackChannelFactory,
    TelegramChannelFactory,
)
from apps.reports import services, tasks
from apps.reports.models import LearningMetrics, Report
from apps.reports.services import ReportError
from apps.reports.tests.conftest import FRI, MON, TUE, kst
from krx import calendar as krx_calendar

pytestmark = pytest.mark.django_db


def test_learning_metrics_of_a_day(week_of_trades) -> None:
    row = services.learning_metrics_compute(TUE)
    assert (row.total_trades, row.win_count, row.loss_count) == (3, 2, 1)
    assert row.win_rate == Decimal("66.6700")
    assert row.avg_return == Decimal("0.8333")
    assert row.total_pnl == 12_000
    assert row.max_drawdown_krw == 4_000
    assert row.max_drawdown == Decimal("0.3960")  # 4,000 / 1,010,000
    assert row.profit_factor == Decimal("4.0000")
    assert row.best_pattern == "leader|news:70+|rank:1-3|time:09:00-09:30"
    assert row.worst_pattern == ""  # only one pattern has the 2 trades needed
    # on demand again: the same row, recomputed
    again = services.learning_metrics_compute(TUE)
    assert again.pk == row.pk and LearningMetrics.objects.count() == 1


def test_metrics_for_a_range_with_index(week_of_trades) -> None:
    result = services.metrics_range(MON, FRI)
    m = result.metrics
    assert (m.total_trades, m.total_pnl) == (4, 4_000)
    assert [p.pnl for p in result.daily] == [0, 12_000, 0, 0, -8_000]
    assert [str(p.cumulative_pct) for p in result.daily][-1] == "0.4000"
    ks11 = result.index["KS11"]
    assert [p["cumulative_pct"] for p in ks11] == ["0.0000", "1.0000", "2.0000"]
    assert result.index["KQ11"] == []


def test_not_a_trading_day_is_refused_and_writes_nothing(db) -> None:
    with pytest.raises(ReportError):
        services.learning_metrics_compute(dt.date(2025, 2, 8))  # Saturday
    with pytest.raises(ReportError):
        services.report_make("daily", dt.date(2025, 1, 29))  # 설날
    with pytest.raises(ReportError):
        services.report_make("monthly", TUE)
    with pytest.raises(ReportError):
        services.metrics_range(FRI, MON)
    assert not Report.objects.exists() and not LearningMetrics.objects.exists()


def test_last_closed_trading_day() -> None:
    close = krx_calendar.session(TUE).close
    assert services.last_closed_trading_day(close) == MON
    assert services.last_closed_trading_day(close + dt.timedelta(minutes=20)) == TUE
    assert services.last_closed_trading_day(kst(dt.date(2025, 2, 8), 12)) == FRI  # Saturday


def test_after_close_job_delivers_the_daily_report_to_slack(
    week_of_trades, fake_http, eager, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    channel = SlackChannelFactory(secret=f"{fake_http.url}/hook", event_kinds=["report.daily"])
    moment = krx_calendar.session(TUE).close + dt.timedelta(minutes=25)

    class Clock:
        def now(self) -> dt.datetime:
            return moment

    monkeypatch.setattr("apps.broker.backends.exchange_clock", lambda: Clock())
    with django_capture_on_commit_callbacks(execute=True):
        made = tasks.after_close()
    assert len(made) == 1
    report = Report.objects.get(pk=made[0])
    assert (report.kind, report.period_start, report.period_end) == ("daily", TUE, TUE)
    assert report.chart_png[:8] == b"\x89PNG\r\n\x1a\n"
    assert LearningMetrics.objects.get(date=TUE).total_pnl == 12_000
    assert fake_http.wait_for(1)
    text = fake_http.requests[0].body["text"]
    assert "[일간 리포트] 2025-02-04 손익 +12,000원" in text
    assert "승률 66.6700%" in text
    assert "KOSPI 1.0000%" in text
    assert Delivery.objects.get(channel=channel).status == "sent"

    # The job runs again (every 10 minutes): nothing new, nothing sent again.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.after_close() == []
    assert Report.objects.count() == 1 and len(fake_http.requests) == 1


def test_weekly_report_after_the_weeks_last_session(
    week_of_trades, eager, django_capture_on_commit_callbacks
) -> None:
    moment = krx_calendar.session(FRI).close + dt.timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        made = services.after_close(moment)
    assert sorted(r.kind for r in made) == ["daily", "weekly"]
    weekly = Report.objects.get(kind="weekly")
    assert (weekly.period_start, weekly.period_end) == (MON, FRI)
    assert weekly.data["total_pnl"] == 4_000
    assert "• 02-04 +12,000원" in weekly.body
    # every trading day of the week has its stored metrics
    assert list(LearningMetrics.objects.order_by("date").values_list("date", flat=True)) == [
        MON,
        TUE,
        dt.date(2025, 2, 5),
        dt.date(2025, 2, 6),
        FRI,
    ]
    assert not any(r.kind == "weekly" for r in services.after_close(moment))


def test_report_is_made_once(week_of_trades, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first, made = services.report_make("daily", TUE)
        second, made_again = services.report_make("daily", TUE)
    assert made and not made_again and first.pk == second.pk
    assert Notification.objects.filter(kind="report.daily").count() == 1


def test_report_chart_goes_to_telegram_as_photo_and_email_as_attachment(
    week_of_trades, fake_http, fake_smtp, eager, settings, django_capture_on_commit_callbacks
) -> None:
    settings.TELEGRAM_API_BASE = fake_http.url
    TelegramChannelFactory(event_kinds=["report.daily"])
    EmailChannelFactory(event_kinds=["report.daily"])
    with django_capture_on_commit_callbacks(execute=True):
        services.report_make("daily", TUE)
    assert fake_http.wait_for(1)
    request = fake_http.requests[0]
    assert request.path.endswith("/sendPhoto")
    raw = request.body["_raw"]
    assert 'name="photo"; filename="equity-daily-20250204.png"' in raw
    assert "[일간 리포트] 2025-02-04" in raw  # the caption
    (mail,) = fake_smtp.messages
    (attached,) = list(mail.iter_attachments())
    assert attached.get_content_type() == "image/png"
    assert attached.get_content()[:4] == b"\x89PNG"
