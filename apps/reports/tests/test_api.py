"""The reports API (seed §8.2): shapes, roles, bad input; the page; the command; the index importer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.reports import services
from apps.reports.index_import import IndexFileError, index_import
from apps.reports.models import IndexDailyBar, Report
from apps.reports.tests.conftest import FRI, MON, TUE

pytestmark = pytest.mark.django_db

METRIC_KEYS = {
    "account_no",
    "from",
    "to",
    "start_equity",
    "total_trades",
    "win_count",
    "loss_count",
    "win_rate",
    "avg_return",
    "profit_factor",
    "exposure",
    "max_drawdown",
    "max_drawdown_krw",
    "total_pnl",
    "best_pattern",
    "worst_pattern",
    "min_pattern_trades",
    "patterns",
    "daily",
    "index",
    "days",
}


def test_metrics_api_shape_for_a_viewer(week_of_trades, api_client, viewer) -> None:
    services.learning_metrics_compute(TUE)
    api_client.force_authenticate(viewer)
    response = api_client.get("/api/v1/reports/metrics", {"from": MON, "to": FRI})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == METRIC_KEYS
    assert (body["total_trades"], body["win_count"], body["total_pnl"]) == (4, 2, 4_000)
    assert body["win_rate"] == "50.0000" and body["avg_return"] == "0.0000"
    assert body["best_pattern"]["pattern"] == "leader|news:70+|rank:1-3|time:09:00-09:30"
    assert body["best_pattern"]["trades"] == 2
    assert [d["date"] for d in body["daily"]] == [
        "2025-02-03",
        "2025-02-04",
        "2025-02-05",
        "2025-02-06",
        "2025-02-07",
    ]
    assert set(body["daily"][0]) == {
        "date",
        "trades",
        "pnl",
        "equity",
        "return_pct",
        "cumulative_pct",
        "drawdown_pct",
    }
    assert body["index"]["KS11"][-1] == {
        "date": "2025-02-07",
        "close": "2550.00",
        "cumulative_pct": "2.0000",
    }
    (day,) = body["days"]  # the stored seed §9.2 rows
    assert set(day) == {
        "date",
        "total_trades",
        "win_count",
        "win_rate",
        "avg_return",
        "max_drawdown",
        "total_pnl",
        "best_pattern",
        "worst_pattern",
        "created_at",
    }
    assert day["date"] == "2025-02-04" and day["total_pnl"] == 12_000


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-02-07", "to": "2025-02-03"},
        {"from": "yesterday"},
        {"to": "2025-13-01"},
        {"from": "2015-01-01", "to": "2025-01-01"},
        {"to": "0001-01-05"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"to": "9999-12-31"},
        {"from": "2040-01-01", "to": "2040-01-02"},
    ],
)
def test_metrics_api_bad_range_is_400(api_client, viewer, params) -> None:
    api_client.force_authenticate(viewer)
    response = api_client.get("/api/v1/reports/metrics", params)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_daily_api_lists_reports(week_of_trades, api_client, viewer) -> None:
    services.report_make("daily", TUE, send=False)
    services.report_make("daily", FRI, send=False)
    services.report_make("weekly", FRI, send=False)
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/v1/reports/daily").json()
    assert body["count"] == 2
    assert [r["date"] for r in body["results"]] == ["2025-02-07", "2025-02-04"]
    first = body["results"][1]
    assert first["kind"] == "daily" and first["title"].startswith("[일간 리포트] 2025-02-04")
    assert first["metrics"]["total_pnl"] == 12_000 and first["notified"] is False
    one = api_client.get("/api/v1/reports/daily", {"date": "2025-02-04"}).json()
    assert [r["id"] for r in one["results"]] == [first["id"]]
    weekly = api_client.get("/api/v1/reports/daily", {"kind": "weekly"}).json()
    assert weekly["results"][0]["period_start"] == "2025-02-03"
    assert api_client.get("/api/v1/reports/daily", {"kind": "x"}).status_code == 400
    assert api_client.get("/api/v1/reports/daily", {"date": "x"}).status_code == 400


def test_api_needs_a_login_and_is_read_only(api_client, trader) -> None:
    assert api_client.get("/api/v1/reports/metrics").status_code in (401, 403)
    assert api_client.get("/api/v1/reports/daily").status_code in (401, 403)
    api_client.force_authenticate(trader)
    assert api_client.post("/api/v1/reports/daily", {}).status_code == 405


def test_reports_page_renders_for_a_viewer(week_of_trades, viewer_client) -> None:
    report, _ = services.report_make("daily", TUE, send=False)
    page = viewer_client.get("/reports/", {"from": "2025-02-03", "to": "2025-02-07"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="chart-cumulative"' in html and "vendor/chartjs/chart.umd.min.js" in html
    assert 'id="reports-data"' in html and "leader|news:70+|rank:1-3|time:09:00-09:30" in html
    chart = viewer_client.get(f"/reports/{report.pk}/chart.png")
    assert chart.status_code == 200 and chart["Content-Type"] == "image/png"
    viewer_client.cookies["django_language"] = "en"
    english = viewer_client.get(
        "/reports/", {"from": "2025-02-03", "to": "2025-02-07"}
    ).content.decode()
    assert "Cumulative return (%) · index comparison" in english and "Pattern analysis" in english
    viewer_client.cookies["django_language"] = "ko"
    for params in ({"from": "2025-02-07", "to": "2025-02-01"}, {"to": "0001-01-01"}, {"from": "x"}):
        bad = viewer_client.get("/reports/", params)
        assert bad.status_code == 200 and 'id="reports-error"' in bad.content.decode()


def test_report_command(week_of_trades) -> None:
    out = StringIO()
    call_command("report", "daily", "--date", "2025-02-04", "--no-send", stdout=out)
    assert "made" in out.getvalue() and "[일간 리포트] 2025-02-04" in out.getvalue()
    out = StringIO()
    call_command("report", "daily", "--date", "2025-02-04", stdout=out)
    assert "already made" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("report", "weekly", "--date", "2025-02-08")
    with pytest.raises(CommandError):
        call_command("report", "daily", "--date", "tomorrow")
    with pytest.raises(CommandError):
        call_command("report", "daily", "--date", "0001-01-01")
    assert Report.objects.count() == 1
    out = StringIO()
    call_command("report", "metrics", "--date", "2025-02-04", stdout=out)
    assert "trades=3 wins=2 win_rate=66.6700%" in out.getvalue()
    assert "total_pnl=12,000" in out.getvalue()


HEADER = "\ufeffDate,Close,UpDown,Comp,Change,Open,High,Low,Volume,Amount,MarCap\n"


def test_index_import(tmp_path: Path) -> None:
    folder = tmp_path / "year_ks11"
    folder.mkdir()
    good = folder / "2025.csv"
    good.write_text(
        HEADER
        + "2025-02-03,2453.95,2,-63.42,-0.025,2487.04,2495.88,2450.87,400000000,9000000000000,1.0\n"
        + "2025-02-04,2481.69,1,27.74,0.011,2460.98,2488.42,2452.36,410000000,9100000000000,1.0\n"
    )
    assert index_import([good]) == 2
    bar = IndexDailyBar.objects.get(index_code="KS11", date=dt.date(2025, 2, 4))
    assert (bar.close, bar.prev_close, bar.volume) == (
        Decimal("2481.69"),
        Decimal("2453.95"),
        410_000_000,
    )
    assert index_import([good]) == 2 and IndexDailyBar.objects.count() == 2  # again: no duplicates

    bad = folder / "2024.csv"
    bad.write_text(HEADER + "2024-12-30,abc,2,0,0,1,1,1,0,0,0\n")
    with pytest.raises(IndexFileError, match=r"2024.csv:2"):
        index_import([bad])
    loose = tmp_path / "kosdaq.csv"
    loose.write_text(HEADER + "2025-02-03,700.00,1,1.00,0.001,699,701,698,1,1,1\n")
    with pytest.raises(IndexFileError, match="index code"):
        index_import([loose])
    with pytest.raises(IndexFileError, match="letters or digits"):
        index_import([loose], code="KOSDAQ-COMPOSITE")
    out = StringIO()
    call_command("import_index_bars", str(loose), "--code", "KQ11", stdout=out)
    assert "1 index bars" in out.getvalue()
    assert IndexDailyBar.objects.filter(index_code="KQ11").count() == 1


HOSTILE = [str(10**30), "-1", "9999-12-31", "0001-01-01", "2025-02-30", "\x00", "NaN", "1e309", ""]


def test_no_server_error_for_hostile_query_values(week_of_trades, viewer_client) -> None:
    for path in ("/api/v1/reports/metrics", "/api/v1/reports/daily", "/reports/"):
        for value in HOSTILE:
            for name in ("from", "to", "date", "kind", "limit", "offset"):
                response = viewer_client.get(path, {name: value})
                assert response.status_code < 500, (path, name, value)
    for pk in (str(10**30), "0", "-1"):
        assert viewer_client.get(f"/reports/{pk}/chart.png").status_code == 404


def test_metrics_api_queries_do_not_grow_with_trades(
    week_of_trades, api_client, viewer, django_assert_max_num_queries
) -> None:
    from apps.reports.tests.conftest import make_trade

    api_client.force_authenticate(viewer)
    with django_assert_max_num_queries(12) as few:
        api_client.get("/api/v1/reports/metrics", {"from": MON, "to": FRI})
    for i in range(30):
        make_trade(TUE, 1_000 + i, "0.1", strategy_tag=f"s{i % 4}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = api_client.get("/api/v1/reports/metrics", {"from": MON, "to": FRI}).json()
    assert body["total_trades"] == 34
